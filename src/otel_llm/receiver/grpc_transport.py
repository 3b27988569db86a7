"""OTLP/gRPC: the official ``TraceService/Export`` on a ``grpcio`` server.

Status codes follow the OTLP spec: INVALID_ARGUMENT (not retried), UNAUTHENTICATED, and
RESOURCE_EXHAUSTED / UNAVAILABLE carrying ``RetryInfo`` so clients know to back off and retry.
grpcio enforces the message size limit itself (after decompression) and answers
RESOURCE_EXHAUSTED past ``maximum_concurrent_rpcs``.

The request arrives as bytes and is parsed here with the official message: left to grpcio, a
malformed message would be answered INTERNAL, which tells the client nothing useful.
"""

from __future__ import annotations

from concurrent import futures

import grpc
from google.protobuf.any_pb2 import Any as AnyMessage
from google.protobuf.duration_pb2 import Duration
from google.rpc import code_pb2, error_details_pb2, status_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from otel_llm.receiver import decode
from otel_llm.receiver.ingest import ExportFailed, Ingestor, Overloaded

RETRY_AFTER_S = 5


SERVICE = trace_service_pb2.DESCRIPTOR.services_by_name["TraceService"].full_name


class _TraceService:
    def __init__(self, ingestor: Ingestor) -> None:
        self._ingestor = ingestor

    def export(self, body: bytes, context: grpc.ServicerContext) -> ExportTraceServiceResponse:
        ingestor = self._ingestor
        metadata = dict(context.invocation_metadata())
        if not ingestor.authorized(metadata.get("authorization")):
            ingestor.refused(
                "grpc_unauthenticated", "OTLP/gRPC UNAUTHENTICATED", "missing or wrong bearer token", context.peer()
            )
            context.abort(grpc.StatusCode.UNAUTHENTICATED, "missing or wrong bearer token")
        try:
            # Conversion finishes decoding (span attributes), so it can refuse the request too.
            outcome = ingestor.ingest(decode.parse(body, decode.PROTOBUF))
        except decode.RequestError as exc:
            ingestor.refused("grpc_invalid_argument", "OTLP/gRPC INVALID_ARGUMENT", str(exc), context.peer())
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        except Overloaded as exc:
            ingestor.refused(
                "grpc_resource_exhausted", "OTLP/gRPC RESOURCE_EXHAUSTED", str(exc), context.peer()
            )
            _abort_retryable(
                context, grpc.StatusCode.RESOURCE_EXHAUSTED, code_pb2.RESOURCE_EXHAUSTED, str(exc)
            )
        except ExportFailed as exc:
            ingestor.refused("grpc_unavailable", "OTLP/gRPC UNAVAILABLE", str(exc), context.peer())
            _abort_retryable(context, grpc.StatusCode.UNAVAILABLE, code_pb2.UNAVAILABLE, str(exc))
        response = ExportTraceServiceResponse()
        if outcome.rejected:
            response.partial_success.rejected_spans = outcome.rejected
            response.partial_success.error_message = outcome.error_message
        return response


def _abort_retryable(
    context: grpc.ServicerContext, code: grpc.StatusCode, rpc_code: int, message: str
) -> None:
    # The spec makes RESOURCE_EXHAUSTED retryable only when RetryInfo rides along in the
    # status details (trailer grpc-status-details-bin, a serialized google.rpc.Status).
    detail = AnyMessage()
    detail.Pack(error_details_pb2.RetryInfo(retry_delay=Duration(seconds=RETRY_AFTER_S)))
    status = status_pb2.Status(code=rpc_code, message=message, details=[detail])
    context.set_trailing_metadata((("grpc-status-details-bin", status.SerializeToString()),))
    context.abort(code, message)


def start_grpc_server(
    address: str, ingestor: Ingestor, *, max_message_bytes: int, max_workers: int = 8, reuse_port: bool = False
) -> tuple[grpc.Server, int]:
    """Start serving on ``address`` ("host:port"); returns the server and the bound port.

    ``reuse_port``: for the workers of ``serve --workers N``, which all bind the port.  grpcio
    sets SO_REUSEPORT by default, so it is turned off otherwise: a second receiver on a port
    in use must fail to start, not silently take half of the traffic.
    """
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="otel-llm-grpc"),
        maximum_concurrent_rpcs=max_workers * 4,
        options=[
            ("grpc.max_receive_message_length", max_message_bytes),
            ("grpc.max_send_message_length", 1024 * 1024),
            ("grpc.so_reuseport", 1 if reuse_port else 0),
        ],
    )
    export = grpc.unary_unary_rpc_method_handler(
        _TraceService(ingestor).export,
        request_deserializer=None,  # bytes: parsed in export() so bad data is INVALID_ARGUMENT
        response_serializer=ExportTraceServiceResponse.SerializeToString,
    )
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, {"Export": export}),))
    try:
        port = server.add_insecure_port(address)
    except RuntimeError:  # grpcio >= 1.60 raises where older ones returned 0
        port = 0
    if port == 0:
        raise OSError(f"cannot listen for OTLP/gRPC on {address}: the port is in use or the address is not this host's")
    server.start()
    return server, port
