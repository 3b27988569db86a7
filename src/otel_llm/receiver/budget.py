"""The receiver's memory for requests in flight, shared by every connection of both transports.

Size limits on bytes do not bound memory: decoding costs per element, and an empty span is 2
bytes on the wire and ~170 once parsed (a 7.6 KiB gzip body of 4 million of them cost 623 MB),
and per connection limits multiply with the connections.  So each request claims, before each
step that allocates, what that step may cost at most, from one budget:

- the body as read (its length);
- parsing: ``PARSE_BYTES_FACTOR`` per decompressed byte, the most the protobuf or JSON parse was
  measured to allocate per byte (empty events and links, empty JSON objects) besides spans,
  which are counted before parsing (``census.py``) and claimed at ``SPAN_BYTES`` each;
- conversion: ``ELEMENT_BYTES`` per attribute, event and link, counted once parsed.

A claim larger than the whole budget can never be served (413); one that does not fit now waits
for others to finish, up to a timeout, then is refused as retryable (429 / RESOURCE_EXHAUSTED).
"""

from __future__ import annotations

import threading

from otel_llm.receiver.decode import TooLarge

PARSE_BYTES_FACTOR = 40
SPAN_BYTES = 1024  # a parsed span, its ReadableSpan and its row (~600 B measured for a bare one)
ELEMENT_BYTES = 256  # a converted attribute, event or link (~230 B measured for an empty event)


class Overloaded(Exception):
    """The receiver is busy (memory in flight, or requests waiting); the client should retry."""


class MemoryBudget:
    def __init__(self, capacity: int, wait_s: float) -> None:
        self.capacity = capacity
        self._wait_s = wait_s
        self._used = 0
        self._cond = threading.Condition()

    @property
    def used(self) -> int:
        with self._cond:
            return self._used

    def claim(self) -> "Claim":
        return Claim(self)

    def _take(self, nbytes: int, already: int) -> None:
        if already + nbytes > self.capacity:
            raise TooLarge(
                f"decoding this request would take about {(already + nbytes) >> 20} MiB, more than the "
                f"receiver's {self.capacity >> 20} MiB for requests in flight; send fewer spans per request"
            )
        with self._cond:
            if not self._cond.wait_for(lambda: self._used + nbytes <= self.capacity, self._wait_s):
                raise Overloaded("the receiver's memory for requests in flight is taken; retry later")
            self._used += nbytes

    def _give_back(self, nbytes: int) -> None:
        with self._cond:
            self._used -= nbytes
            self._cond.notify_all()


class Claim:
    """One request's share of the budget, grown step by step and given back at the end."""

    def __init__(self, budget: MemoryBudget) -> None:
        self._budget = budget
        self.held = 0

    def add(self, nbytes: int) -> None:
        self._budget._take(nbytes, self.held)
        self.held += nbytes

    def __enter__(self) -> "Claim":
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.held:
            self._budget._give_back(self.held)
            self.held = 0
