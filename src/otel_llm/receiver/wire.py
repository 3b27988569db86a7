"""``ExportTraceServiceRequest``, as the receiver parses it: span attributes kept as raw bytes.

Reading a field of a parsed (upb) protobuf message costs a Python wrapper object per message:
for a span's 20 attributes, 40 wrappers (``KeyValue`` and ``AnyValue``) and 60 field reads,
two thirds of the receiver's conversion time.  Yet most attributes repeat from span to span
byte for byte (operation, provider, model, server, customer, agent, tags, config...).

So the request is parsed with a copy of the official schema that differs in one field:
``Span.attributes`` is ``repeated bytes`` instead of ``repeated KeyValue``.  The two are the same
on the wire (a length-delimited field 9 per attribute), so this parses every OTLP body the
official message parses, and each attribute arrives as the exact bytes of its ``KeyValue``.
:mod:`otel_llm.receiver.convert` decodes those with the official ``KeyValue`` message and
remembers small ones by their bytes.  Every other field keeps its official type, built here from
the official descriptors at import, so the copy follows the installed opentelemetry-proto.
"""

from __future__ import annotations

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

PACKAGE = "otel_llm.receiver.wire"


def _build():
    file = descriptor_pb2.FileDescriptorProto()
    trace_pb2.DESCRIPTOR.CopyToProto(file)
    official = f".{file.package}."
    file.name = "otel_llm/receiver/wire/trace.proto"
    file.package = PACKAGE

    def retarget(message: descriptor_pb2.DescriptorProto) -> None:
        # References into trace.proto now point at the copies; common / resource types stay official.
        for field in message.field:
            if field.type_name.startswith(official):
                field.type_name = f".{PACKAGE}.{field.type_name[len(official):]}"
        for nested in message.nested_type:
            retarget(nested)

    for message in file.message_type:
        retarget(message)
        if message.name == "Span":
            [attributes] = [field for field in message.field if field.name == "attributes"]
            attributes.type = descriptor_pb2.FieldDescriptorProto.TYPE_BYTES
            attributes.ClearField("type_name")
    request = file.message_type.add()
    trace_service_pb2.ExportTraceServiceRequest.DESCRIPTOR.CopyToProto(request)
    retarget(request)
    pool = descriptor_pool.Default()
    pool.Add(file)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{PACKAGE}.ExportTraceServiceRequest"))


ExportTraceServiceRequest = _build()
