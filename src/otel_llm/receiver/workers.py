"""``otel-llm serve --workers N``: N receiver processes on the same ports.

One Python process converts spans and builds rows under one GIL, so it uses one core.  Here
each worker is a whole receiver (both transports, its own ``LLMTraceExporter`` and storage
writer) listening with SO_REUSEPORT: the kernel spreads new connections across the workers, by
a hash of the connection, so clients should keep several connections (collectors do: one per
sending-queue consumer).  On the embedded store the writers already share it safely: one worker
at a time owns the chDB directory and ingests the others' spool (``storage/embedded.py``).

This process only supervises: it reserves the ports (so port 0 means one free port for all),
starts the workers with ``spawn`` (no fork of a process holding threads), announces the ports
once all listen, and on SIGTERM / SIGINT stops them; each flushes its exporter, and waits for
its spooled rows to be ingested, before exiting.  If a worker dies, the others are stopped and
``serve`` exits non-zero, for the service manager to restart it whole.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import socket
import sys
import time
from dataclasses import replace

from otel_llm.receiver.config import ReceiverConfig

# A worker's graceful stop flushes rows and waits for the spool to be ingested (the writer's
# own shutdown timeout is 30 s); past this it is killed.
STOP_TIMEOUT_S = 60.0
START_TIMEOUT_S = 120.0


def serve_workers(config: ReceiverConfig, url: str | None) -> int:
    """Run ``config.workers`` receivers until SIGTERM / SIGINT; the exit status for the CLI."""
    from otel_llm.receiver.server import StopSignals

    reserved: list[socket.socket | None] = []
    try:
        for port in (config.http_port, config.grpc_port):
            reserved.append(_reserve(config.host, port))
    except OSError as exc:
        print(f"otel-llm serve: cannot listen on {config.host} port {port}: {exc}", file=sys.stderr, flush=True)
        for sock in reserved:
            if sock is not None:
                sock.close()
        return 2
    http_port, grpc_port = (sock.getsockname()[1] if sock else None for sock in reserved)
    worker_config = replace(config, http_port=http_port, grpc_port=grpc_port, reuse_port=True)
    context = multiprocessing.get_context("spawn")
    ready = context.Queue()
    processes = [
        context.Process(
            target=_worker, args=(worker_config, url, index, ready), name=f"otel-llm-worker-{index}"
        )
        for index in range(config.workers)
    ]
    with StopSignals() as stop:
        try:
            for process in processes:
                process.start()
            failure = _wait_ready(ready, processes)
            if failure:
                print(f"otel-llm serve: {failure}", file=sys.stderr, flush=True)
                return 2
            print(
                f"otel-llm serve: listening on {config.host}: OTLP/HTTP port {http_port or 'off'}, "
                f"OTLP/gRPC port {grpc_port or 'off'} ({config.workers} workers)",
                file=sys.stderr,
                flush=True,
            )
            reason = stop.wait(lambda: _dead(processes))
            print(f"otel-llm serve: {reason}, stopping the workers", file=sys.stderr, flush=True)
            return 0 if reason in ("SIGTERM", "SIGINT") else 1
        finally:
            _stop(processes)
            for sock in reserved:
                if sock is not None:
                    sock.close()


def _reserve(host: str, port: int | None) -> socket.socket | None:
    """A socket bound (not listening, so it gets no connections) to the port the workers share:
    it fixes the port when asked for 0 and fails early when the port is taken."""
    if port is None:
        return None
    bare = host.strip("[]")
    family = socket.AF_INET6 if ":" in bare else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((bare, port))
    except BaseException:
        sock.close()
        raise
    return sock


def _wait_ready(ready, processes: list) -> str | None:
    """None once every worker listens; else what went wrong."""
    deadline = time.monotonic() + START_TIMEOUT_S
    waiting = len(processes)
    while waiting:
        try:
            kind, index, detail = ready.get(timeout=0.5)
        except queue.Empty:
            dead = _dead(processes)
            if dead:
                return dead
            if time.monotonic() > deadline:
                return f"workers did not start within {START_TIMEOUT_S:g} s"
            continue
        if kind != "ready":
            return f"worker {index}: {detail}"
        waiting -= 1
    return None


def _dead(processes: list) -> str | None:
    for index, process in enumerate(processes):
        if process.exitcode is not None:
            return f"worker {index} (pid {process.pid}) exited with status {process.exitcode}"
    return None


def _stop(processes: list) -> None:
    for process in processes:
        if process.is_alive():
            process.terminate()  # SIGTERM: the worker flushes and exits
    deadline = time.monotonic() + STOP_TIMEOUT_S
    for process in processes:
        if process.pid is None:
            continue  # never started
        process.join(max(deadline - time.monotonic(), 0))
        if process.is_alive():
            process.kill()
            process.join()


def _worker(config: ReceiverConfig, url: str | None, index: int, ready) -> None:
    from otel_llm.receiver.server import Receiver, StopSignals, build_exporter, tune_gc

    parent = os.getppid()
    with StopSignals() as stop:
        try:
            exporter = build_exporter(config, url)
            receiver = Receiver(
                config, exporter, worker={"index": index, "workers": config.workers, "pid": os.getpid()}
            ).start()
        except Exception as exc:
            ready.put(("error", index, str(exc)))
            raise SystemExit(2) from None
        tune_gc()
        ready.put(("ready", index, None))
        try:
            # A supervisor killed without its chance to stop us must not leave us serving.
            stop.wait(lambda: "supervisor gone" if os.getppid() != parent else None)
        finally:
            receiver.stop()
