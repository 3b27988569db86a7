"""Time windows for ``--since`` / ``--until``: a relative age (``90m``, ``24h``, ``7d``) or an
absolute ISO time (``2026-11-01``, ``2026-11-01T12:00``). Naive absolute times are UTC, like the
``timestamp`` column."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_AGE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$", re.IGNORECASE)


class WindowError(ValueError):
    """A --since/--until value we cannot read; the message says what is accepted."""


@dataclass(frozen=True)
class Window:
    since: datetime
    until: datetime

    @property
    def parameters(self) -> dict[str, str]:
        """Server-side query parameters for ``{since:DateTime64(6, 'UTC')}`` and ``{until:...}``."""
        return {"since": _clickhouse_text(self.since), "until": _clickhouse_text(self.until)}

    @property
    def seconds(self) -> float:
        return (self.until - self.since).total_seconds()

    def describe(self) -> str:
        return f"{self.since:%Y-%m-%d %H:%M:%S} to {self.until:%Y-%m-%d %H:%M:%S} UTC"


def parse_time(text: str, now: datetime, flag: str) -> datetime:
    if match := _AGE.match(text):
        amount, unit = float(match.group(1)), match.group(2).lower()
        try:
            return now - timedelta(**{_UNITS[unit]: amount})
        except OverflowError:
            raise WindowError(f"{flag} {text!r}: reaches before year 1; give a shorter age") from None
    if text.strip().lower() == "now":
        return now
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise WindowError(
            f"{flag} {text!r}: expected an age like 30m, 24h, 7d, 2w (units s/m/h/d/w) "
            "or an ISO time like 2026-11-01 or 2026-11-01T12:00"
        ) from None
    return when.astimezone(timezone.utc) if when.tzinfo else when.replace(tzinfo=timezone.utc)


def parse_window(since: str, until: str | None, now: datetime | None = None) -> Window:
    now = now or datetime.now(timezone.utc)
    start = parse_time(since, now, "--since")
    end = parse_time(until, now, "--until") if until else now
    if start >= end:
        raise WindowError(
            f"the window is empty: --since ({start:%Y-%m-%d %H:%M:%S}) is not before "
            f"--until ({end:%Y-%m-%d %H:%M:%S}) UTC; swap them or widen --since"
        )
    return Window(start, end)


def _clickhouse_text(when: datetime) -> str:
    # ClickHouse's text form for DateTime64(6): no 'T', no offset (the parameter type says UTC).
    return when.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")
