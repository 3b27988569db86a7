"""``otel-llm serve`` settings: flags, each with an environment variable, and the bind safety rule."""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass

ENV_PREFIX = "OTEL_LLM_RECEIVER_"
MiB = 1024 * 1024


class UnsafeBind(ValueError):
    """Refusing to listen beyond loopback without a bearer token."""


@dataclass(frozen=True)
class ReceiverConfig:
    host: str = "127.0.0.1"
    grpc_port: int | None = 4317  # None: OTLP/gRPC off
    http_port: int | None = 4318  # None: OTLP/HTTP off
    token: str | None = None
    # 4 MiB is the collector's own gRPC default; HTTP bodies may be bigger since payloads are.
    max_body_bytes: int = 16 * MiB
    max_decompressed_bytes: int = 32 * MiB
    # What decoding may build, whatever the bytes (budget.py): per request, and in memory for
    # all requests in flight together (a 32 MiB body is claimed at ~1.3 GiB before parsing).
    max_spans_per_request: int = 200_000
    max_attributes_per_request: int = 4_000_000  # attributes, events and links
    max_memory_bytes: int = 2048 * MiB
    forward_endpoint: str | None = None
    forward_protocol: str = "http/protobuf"
    # Processes sharing the ports (``--workers``); each worker listens with SO_REUSEPORT.
    workers: int = 1
    reuse_port: bool = False

    def check(self) -> None:
        """Raise ``UnsafeBind`` / ``ValueError`` for settings the receiver must not start with."""
        if self.grpc_port is None and self.http_port is None:
            raise ValueError("both transports are off: give an --http-port or a --grpc-port")
        if not self.token and not is_loopback(self.host):
            raise UnsafeBind(
                f"refusing to listen on {self.host!r} without a bearer token: anyone who can reach "
                f"it could write rows. Set --token or {ENV_PREFIX}TOKEN, or bind 127.0.0.1."
            )
        if self.max_body_bytes <= 0 or self.max_decompressed_bytes < self.max_body_bytes:
            raise ValueError("size limits must be positive, the decompressed one >= the body one")
        if min(self.max_spans_per_request, self.max_attributes_per_request, self.max_memory_bytes) <= 0:
            raise ValueError("span, attribute and memory limits must be positive")
        if self.workers < 1:
            raise ValueError(f"workers must be at least 1, not {self.workers}")
        if self.forward_protocol not in ("http/protobuf", "grpc"):
            raise ValueError(f"forward protocol must be http/protobuf or grpc, not {self.forward_protocol!r}")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # any other host name may resolve beyond this machine


def env(name: str, default: str | None = None) -> str | None:
    return os.environ.get(ENV_PREFIX + name, default)


def port(value: str) -> int | None:
    """A port number, 0 for any free port, or "off"."""
    if value.strip().lower() == "off":
        return None
    number = int(value)
    if not 0 <= number <= 65535:
        raise ValueError(f"port out of range: {value}")
    return number
