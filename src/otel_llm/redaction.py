"""Secrets kept out of what otel-llm writes: payloads, error messages, leftover attributes.

API keys and auth headers are never recorded in the first place (the instrumentors skip
``api_key`` / ``extra_headers``; the exporter drops ``http.request.header.*`` credentials). What
users' own data may carry — a customer's token pasted into a prompt — only a rule can recognise:

- ``OTEL_LLM_REDACT_PATTERNS``: regular expressions separated by whitespace; every match becomes
  ``[REDACTED]``.
- ``otel_llm.set_redactor(fn)``: any ``str -> str`` callable, used instead of the patterns
  (``set_redactor(None)`` goes back to them, re-reading the environment).

Applied once to each free text on its way out of the app's objects: payloads and error messages
as our instrumentors set them on spans (so every exporter sees them redacted), the full payloads
our exporter serializes for the row, and the free text of other instrumentations' spans
(in-process or through ``otel-llm serve``) — see :mod:`otel_llm.exporter.redacting` for which
columns.  Ids, model names and keys are never passed to it.  With nothing configured
:func:`active` is None and callers skip redaction entirely.
"""

from __future__ import annotations

import logging
import os
import re
from typing import Callable

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


set_redactor(None)
