"""What the redactor sees of one LLM span on its way to a row and a forwarded span: each text once.

Free text only: payloads (``request_json``, ``response_json``, ``llm_config_json`` and the
content attributes they are built from), error messages, and the values of leftover span and
resource attributes (``span_attributes`` / ``resource_attributes``).  Never ids, model names,
provider, finish reasons, counts, costs or attribute names and map keys.  Texts our
instrumentors wrote in this process (content attributes, config, error message, the kept full
payloads) were redacted when written, so they are not seen again; a text that reaches both the
row and the forwarded span is redacted once for both.
"""

from __future__ import annotations

from typing import Any, Mapping

from otel_llm import attributes as attr
from otel_llm import redaction
from otel_llm.exporter.row import MAPPED_SPAN_KEYS
from otel_llm.exporter.sources import FOREIGN_PAYLOAD_ATTRIBUTES

# Free text with a column of its own (the rest of the free text is leftover attributes).
FREE_TEXT_KEYS = frozenset(
    {*attr.PAYLOAD_ATTRIBUTES, *FOREIGN_PAYLOAD_ATTRIBUTES, attr.LLM_CONFIG_JSON, attr.ERROR_MESSAGE}
)
# Attributes with a column that holds no free text: ids, model names, counts, enums.
STRUCTURED_KEYS = MAPPED_SPAN_KEYS - FREE_TEXT_KEYS


class SpanRedaction:
    """The redactor applied to one span; ``redacted_at_source``: our instrumentors' in-process span."""

    __slots__ = ("_seen", "_skipped")

    def __init__(self, redacted_at_source: bool) -> None:
        self._seen: dict[str, str] = {}
        self._skipped = STRUCTURED_KEYS | FREE_TEXT_KEYS if redacted_at_source else STRUCTURED_KEYS

    def text(self, value: str) -> str:
        done = self._seen.get(value)
        if done is None:
            done = self._seen[value] = redaction.redact(value)
        return done

    def attributes(self, attributes: Mapping[str, Any]) -> dict[str, Any]:
        """``attributes`` with every free-text value redacted."""
        skipped = self._skipped
        return {
            key: self.text(value) if type(value) is str and key not in skipped else value
            for key, value in attributes.items()
        }


class ResourceRedaction:
    """Leftover resource attributes, redacted once per resource (the map is shared by its rows,
    and one instance, :data:`RESOURCES`, by every exporter)."""

    _MAX = 256

    def __init__(self) -> None:
        self._done: dict[int, tuple[Mapping[str, str], dict[str, str]]] = {}
        self._redactor: Any = None

    def leftover(self, values: Mapping[str, str]) -> Mapping[str, str]:
        if not values:
            return values
        if redaction.active() is not self._redactor:  # set_redactor() since: start again
            self._redactor = redaction.active()
            self._done.clear()
        cached = self._done.get(id(values))
        if cached is not None and cached[0] is values:
            return cached[1]
        redacted = {key: redaction.redact(value) for key, value in values.items()}
        if len(self._done) >= self._MAX:
            self._done.clear()
        self._done[id(values)] = (values, redacted)
        return redacted


RESOURCES = ResourceRedaction()
