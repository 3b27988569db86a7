"""``otel-llm serve``: an OTLP/gRPC and OTLP/HTTP receiver feeding ``llm_traces``.

Spans arriving over OTLP are rebuilt as SDK ``ReadableSpan`` objects and handed to the same
``LLMTraceExporter`` the in-process pipeline uses, so there is one span → row code path.
"""

from typing import Any

from otel_llm.receiver.config import ReceiverConfig, UnsafeBind

__all__ = ["Receiver", "ReceiverConfig", "UnsafeBind", "build_exporter", "serve"]


def __getattr__(name: str) -> Any:
    # The server pulls in grpcio and the OTLP protobufs (the optional ``serve`` extra); the CLI
    # imports the config above to build ``serve --help`` and must work without them.
    if name in ("Receiver", "build_exporter", "serve"):
        from otel_llm.receiver import server

        return getattr(server, name)
    raise AttributeError(f"module 'otel_llm.receiver' has no attribute {name!r}")
