"""Refused requests, logged with their reason: the client may never say why its spans are missing.

The OTLP exporters report a refusal only to their own diagnostic logger (the JavaScript ones to
a logger that is off by default), so the receiver's log is where an operator finds out.  One
line per kind of refusal (transport and status) per interval at most, with how many more were
refused like it since: a misconfigured or hostile client cannot flood the log.
"""

from __future__ import annotations

import logging
import threading
import time

logger = logging.getLogger("otel_llm.receiver")

INTERVAL_S = 10.0
_MAX_REASON_CHARS = 300  # reasons quote client input (a path, a header): keep lines short


class RefusalLog:
    def __init__(self, interval_s: float = INTERVAL_S) -> None:
        self._interval_s = interval_s
        self._lock = threading.Lock()
        self._last_logged: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}

    def refused(self, kind: str, reason: str, peer: str) -> None:
        """``kind``: what was answered ("OTLP/HTTP 413"); ``reason``: why; ``peer``: the client."""
        now = time.monotonic()
        with self._lock:
            last = self._last_logged.get(kind)
            if last is not None and now - last < self._interval_s:
                self._suppressed[kind] = self._suppressed.get(kind, 0) + 1
                return
            self._last_logged[kind] = now
            suppressed = self._suppressed.pop(kind, 0)
        since = f" ({suppressed} more refused so since the last such line)" if suppressed else ""
        logger.warning("refused a request from %s with %s: %s%s", peer, kind, reason[:_MAX_REASON_CHARS], since)
