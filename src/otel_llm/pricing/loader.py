"""Lazy, thread-safe loading of the bundled price table and the user's override file.

Nothing is read at import: the first ``compute_cost`` loads the table once, under a lock, and every
later call reuses it.  A broken override file is logged and ignored, never raised into the app.
"""

from __future__ import annotations

import logging
import os
import threading
from importlib import resources

from .schema import PriceTableError, parse_document
from .table import PriceTable

OVERRIDE_ENV = "OTEL_LLM_PRICES_FILE"

logger = logging.getLogger("otel_llm.pricing")

_lock = threading.Lock()
_bundled: PriceTable | None = None
_current: PriceTable | None = None


def bundled_table() -> PriceTable:
    global _bundled
    if _bundled is None:
        with _lock:
            if _bundled is None:
                text = resources.files(__package__).joinpath("prices.json").read_text("utf-8")
                # The bundle is tested; a failure here is a packaging bug and should be loud.
                _bundled = PriceTable.from_document(parse_document(text))
    return _bundled


def current_table() -> PriceTable:
    global _current
    if _current is None:
        bundled = bundled_table()
        with _lock:
            if _current is None:
                _current = _with_override(bundled, os.environ.get(OVERRIDE_ENV, "").strip())
    return _current


def reload() -> None:
    """Forget the loaded table; the next call reads the bundle and ``OTEL_LLM_PRICES_FILE`` again."""
    global _bundled, _current
    with _lock:
        _bundled = _current = None


def _with_override(bundled: PriceTable, path: str) -> PriceTable:
    if not path:
        return bundled
    try:
        with open(path, encoding="utf-8") as file:
            return bundled.merged_with(parse_document(file.read()))
    except (OSError, UnicodeDecodeError, PriceTableError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        logger.error(
            "otel-llm pricing: ignoring %s=%s: %s; using the bundled prices (version %s)",
            OVERRIDE_ENV,
            path,
            reason,
            bundled.version,
        )
        return bundled
