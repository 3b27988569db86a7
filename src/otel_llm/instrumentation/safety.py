"""Instrumentation must never change what the SDK returns or raises: our failures are logged."""

from __future__ import annotations

import logging

logger = logging.getLogger("otel_llm.instrumentation")

_reported: set[str] = set()


def report(where: str, error: BaseException) -> None:
    """Log an internal failure once per place (at debug level thereafter) and carry on."""
    if where in _reported:
        logger.debug("otel-llm instrumentation failed in %s: %r", where, error)
        return
    _reported.add(where)
    logger.warning(
        "otel-llm instrumentation failed in %s and skipped it; the SDK call is unaffected: %r",
        where,
        error,
        exc_info=error,
    )
