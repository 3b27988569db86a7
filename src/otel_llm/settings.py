"""Numeric settings read from the environment inside the user's app (writer, offload, locks).

A typo in one of them must not cost the app its telemetry: a value that is not a number of the
setting's kind, or is below its minimum, is logged (the variable, what it held, what it takes)
and the default is used instead.
"""

from __future__ import annotations

import logging
import os

logger = logging.getLogger("otel_llm")


def env_number(name: str, default: int | float, minimum: int | float = 0) -> int | float:
    """The number in environment variable ``name`` (a whole number when ``default`` is an int),
    or ``default`` when it is unset, blank, malformed or below ``minimum``."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    whole = isinstance(default, int)
    try:
        value = int(raw) if whole else float(raw)
    except ValueError:
        value = None
    if value is None or not value >= minimum:  # "not >=" also refuses nan
        kind = "a whole number" if whole else "a number"
        logger.warning("otel-llm: %s=%r is not %s >= %s; using %s", name, raw, kind, minimum, default)
        return default
    return value
