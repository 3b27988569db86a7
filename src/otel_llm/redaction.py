"""Secrets kept out of what otel-llm writes: payloads, error messages, leftover attributes.

API keys and auth headers are never recorded in the first place (the instrumentors skip
``api_key`` / ``extra_headers``; the exporter drops ``http.request.header.*`` credentials). What
users' own data may carry — a customer's token pasted into a prompt — only a rule can recognise:

- ``OTEL_LLM_REDACT_PATTERNS``: regular expressions separated by whitespace; every match becomes
  ``[REDACTED]``.
- ``otel_llm.set_redactor(fn)``: any ``str -> str`` callable, used instead of the patterns
  (``set_redactor(None)`` goes back to them, re-reading the environment).

Applied where text leaves the app's objects: payloads and error messages set on our spans, the
payloads our exporter serializes, and every text column of a row (so spans of other
instrumentations arriving in-process or through ``otel-llm serve`` are covered too). With nothing
configured :func:`active` is None and callers skip redaction entirely.
"""

from __future__ import annotations

import logging
import os
import re
from typing import Any, Callable

logger = logging.getLogger(__name__)

PATTERNS_ENV = "OTEL_LLM_REDACT_PATTERNS"
REPLACEMENT = "[REDACTED]"
# What a text becomes when the redactor itself fails: withheld, never passed on unredacted.
WITHHELD = "[WITHHELD: redaction failed]"

Redactor = Callable[[str], str]
_redactor: Redactor | None = None
_failed_once = False


def _from_env() -> Redactor | None:
    compiled = []
    for pattern in os.environ.get(PATTERNS_ENV, "").split():
        try:
            compiled.append(re.compile(pattern))
        except re.error as error:
            logger.error("otel-llm: %s: ignoring invalid pattern %r: %s", PATTERNS_ENV, pattern, error)
    if not compiled:
        return None
    combined = re.compile("|".join(f"(?:{p.pattern})" for p in compiled))
    return lambda text: combined.sub(REPLACEMENT, text)


def set_redactor(redactor: Redactor | None) -> None:
    """Use ``redactor`` on every text otel-llm writes; None: the ``OTEL_LLM_REDACT_PATTERNS`` ones."""
    global _redactor
    _redactor = redactor if redactor is not None else _from_env()


def active() -> Redactor | None:
    """The redactor in effect, or None when nothing is configured."""
    return _redactor


def redact(text: str) -> str:
    if _redactor is None:
        return text
    global _failed_once
    try:
        return _redactor(text)
    except Exception:  # noqa: BLE001 - a broken redactor must not break the app, nor leak
        if not _failed_once:
            _failed_once = True
            logger.exception("otel-llm: the redactor failed; the text was withheld")
        return WITHHELD


def redact_row(row: dict[str, Any]) -> None:
    """Every text column of an ``llm_traces`` row, map values included, redacted in place."""
    for column, value in row.items():
        if type(value) is str:
            row[column] = redact(value)
        elif type(value) is dict and column.endswith("_attributes"):
            # A new dict: the resource's map is shared between rows.
            row[column] = {key: redact(item) for key, item in value.items()}


set_redactor(None)
