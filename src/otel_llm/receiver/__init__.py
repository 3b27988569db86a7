"""``otel-llm serve``: an OTLP/gRPC and OTLP/HTTP receiver feeding ``llm_traces``.

Spans arriving over OTLP are rebuilt as SDK ``ReadableSpan`` objects and handed to the same
``LLMTraceExporter`` the in-process pipeline uses, so there is one span → row code path.
"""

from otel_llm.receiver.config import ReceiverConfig, UnsafeBind
from otel_llm.receiver.server import Receiver, build_exporter, serve

__all__ = ["Receiver", "ReceiverConfig", "UnsafeBind", "build_exporter", "serve"]
