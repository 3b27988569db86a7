"""``otel-llm`` command line. Each subcommand is a ``register_*`` (adds its parser) plus a handler
returning the exit code; add new ones to ``COMMANDS``.

Exit codes: 0 ok, 1 the store failed (unreachable, busy, SQL error), 2 bad usage or configuration.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import decimal
import json
import logging
import sys
import uuid

from otel_llm.analytics import commands as analytics_commands
from otel_llm.pricing import commands as pricing_commands
from otel_llm.storage import ConfigError, StorageError, open_store, parse_url
from otel_llm.storage import schema as schema_mod
from otel_llm.version import __version__

URL_HELP = "store URL (default: $OTEL_LLM_CLICKHOUSE_URL, else embedded chDB under $OTEL_LLM_HOME)"


def register_init_db(sub) -> None:
    p = sub.add_parser("init-db", help="create or upgrade the llm_traces schema (idempotent)")
    p.add_argument("--url", help=URL_HELP)
    p.add_argument("--cluster", help="create the cluster layout ON CLUSTER NAME (Replicated + Distributed)")
    p.add_argument("--print", dest="print_only", action="store_true", help="print the DDL instead of running it")
    p.set_defaults(handler=init_db)


def init_db(args) -> int:
    if args.print_only:
        layout = schema_mod.Layout(
            database=parse_url(args.url).database, cluster=args.cluster, ttl_days=schema_mod.ttl_days_from_env()
        )
        print(";\n\n".join(schema_mod.render_all(layout)) + ";")
        return 0
    store = open_store(args.url)
    try:
        done = schema_mod.apply(store, cluster=args.cluster)
        done += schema_mod.apply_ttl(store, cluster=args.cluster)
    finally:
        store.close()
    target = parse_url(args.url).url
    for line in done:
        print(line)
    print(f"{target}: schema up to date" + ("" if done else " (nothing to do)"))
    return 0


def register_query(sub) -> None:
    p = sub.add_parser("query", help="run a SQL query against the store and print the result")
    p.add_argument("sql")
    p.add_argument("--format", choices=("table", "csv", "json"), default="table")
    p.add_argument("--url", help=URL_HELP)
    p.set_defaults(handler=query)


def query(args) -> int:
    store = open_store(args.url)
    try:
        columns, rows = store.query(args.sql)
    finally:
        store.close()
    FORMATTERS[args.format](columns, rows, sys.stdout)
    return 0


def _text(value) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, datetime.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, (dict, list)):
        return json.dumps(value, default=_json_default, ensure_ascii=False)
    if isinstance(value, decimal.Decimal):
        return format(value, "f")  # str() writes small costs as 1.00E-7
    return str(value)


def _json_default(value):
    if isinstance(value, decimal.Decimal):
        return format(value, "f")
    if isinstance(value, (uuid.UUID, datetime.date)):
        return str(value) if not isinstance(value, datetime.date) else value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    raise TypeError(f"cannot serialize {type(value).__name__}")


def print_table(columns, rows, out) -> None:
    cells = [[_text(v) for v in row] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    line = lambda values: " | ".join(v.ljust(w) for v, w in zip(values, widths)).rstrip()  # noqa: E731
    out.write(line(columns) + "\n")
    out.write("-+-".join("-" * w for w in widths) + "\n")
    for row in cells:
        out.write(line(row) + "\n")
    out.write(f"({len(rows)} row{'s' if len(rows) != 1 else ''})\n")


def print_csv(columns, rows, out) -> None:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows([["" if v is None else _text(v) for v in row] for row in rows])


def print_json(columns, rows, out) -> None:
    # One JSON object per line (JSON Lines): streams well and pipes into jq.
    for row in rows:
        out.write(json.dumps(dict(zip(columns, row)), default=_json_default, ensure_ascii=False) + "\n")


FORMATTERS = {"table": print_table, "csv": print_csv, "json": print_json}


def register_serve(sub) -> None:
    from otel_llm.receiver import config as rc  # stdlib only: --help works without the serve extra

    def flag_env(name: str) -> str:
        return f"(env {rc.ENV_PREFIX}{name})"

    p = sub.add_parser(
        "serve",
        help="run an OTLP receiver (gRPC and HTTP) writing LLM spans to llm_traces",
        description="Receive OTLP traces from collectors and services; LLM spans become llm_traces rows "
        "through the same exporter apps use. Every flag defaults to its environment variable. Stops "
        "gracefully (exporter flushed) on SIGTERM or SIGINT.",
    )
    p.add_argument("--url", help=URL_HELP)
    p.add_argument(
        "--host",
        default=rc.env("HOST", "127.0.0.1"),
        help=f"address to listen on {flag_env('HOST')}; default 127.0.0.1. Anything but loopback requires --token",
    )
    p.add_argument(
        "--http-port",
        type=rc.port,
        default=rc.env("HTTP_PORT", "4318"),
        help=f"OTLP/HTTP port, POST /v1/traces and GET /health {flag_env('HTTP_PORT')}; default 4318, 0 any free "
        "port, 'off' to disable",
    )
    p.add_argument(
        "--grpc-port",
        type=rc.port,
        default=rc.env("GRPC_PORT", "4317"),
        help=f"OTLP/gRPC port {flag_env('GRPC_PORT')}; default 4317, 0 any free port, 'off' to disable",
    )
    p.add_argument(
        "--token",
        default=rc.env("TOKEN"),
        help=f"bearer token clients must send as 'Authorization: Bearer TOKEN' on both transports "
        f"{flag_env('TOKEN')}; prefer the env var, command lines are visible to other users",
    )
    p.add_argument(
        "--max-body-bytes",
        type=int,
        default=rc.env("MAX_BODY_BYTES", str(rc.ReceiverConfig.max_body_bytes)),
        help=f"largest request body accepted as sent, compressed or not {flag_env('MAX_BODY_BYTES')}; "
        "default %(default)s; larger gets 413",
    )
    p.add_argument(
        "--max-decompressed-bytes",
        type=int,
        default=rc.env("MAX_DECOMPRESSED_BYTES", str(rc.ReceiverConfig.max_decompressed_bytes)),
        help=f"largest request after gzip decompression, also the gRPC message limit "
        f"{flag_env('MAX_DECOMPRESSED_BYTES')}; default %(default)s; larger gets 413 / RESOURCE_EXHAUSTED",
    )
    p.add_argument(
        "--max-spans-per-request",
        type=int,
        default=rc.env("MAX_SPANS_PER_REQUEST", str(rc.ReceiverConfig.max_spans_per_request)),
        help=f"most spans in one request {flag_env('MAX_SPANS_PER_REQUEST')}; default %(default)s; "
        "more gets 413 / RESOURCE_EXHAUSTED, counted before the spans are decoded",
    )
    p.add_argument(
        "--max-attributes-per-request",
        type=int,
        default=rc.env("MAX_ATTRIBUTES_PER_REQUEST", str(rc.ReceiverConfig.max_attributes_per_request)),
        help=f"most attributes, events and links in one request {flag_env('MAX_ATTRIBUTES_PER_REQUEST')}; "
        "default %(default)s; more gets 413 / RESOURCE_EXHAUSTED",
    )
    p.add_argument(
        "--max-memory-bytes",
        type=int,
        default=rc.env("MAX_MEMORY_BYTES", str(rc.ReceiverConfig.max_memory_bytes)),
        help=f"memory for decoding the requests in flight, all connections together "
        f"{flag_env('MAX_MEMORY_BYTES')}; default %(default)s; a request that does not fit waits, then "
        "gets 429 / RESOURCE_EXHAUSTED with Retry-After / RetryInfo (413 if it could never fit)",
    )
    p.add_argument(
        "--forward-endpoint",
        default=rc.env("FORWARD_ENDPOINT"),
        help=f"also send every span onward over OTLP, LLM payloads slimmed as the exporter does "
        f"{flag_env('FORWARD_ENDPOINT')}; e.g. http://collector:4318/v1/traces; default: no forwarding",
    )
    p.add_argument(
        "--forward-protocol",
        choices=("http/protobuf", "grpc"),
        default=rc.env("FORWARD_PROTOCOL", "http/protobuf"),
        help=f"OTLP protocol for --forward-endpoint {flag_env('FORWARD_PROTOCOL')}; default %(default)s; "
        "headers and compression come from the standard OTEL_EXPORTER_OTLP_* variables",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=rc.env("WORKERS", str(rc.ReceiverConfig.workers)),
        help=f"receiver processes sharing the ports (SO_REUSEPORT), each with its own exporter "
        f"{flag_env('WORKERS')}; default %(default)s. One process uses about one core; the kernel "
        "spreads connections across workers, so clients need several connections. /health "
        "answers for the worker that took the connection",
    )
    p.set_defaults(handler=serve)


def serve(args) -> int:
    try:
        from otel_llm.receiver import ReceiverConfig, UnsafeBind, build_exporter
        from otel_llm.receiver import serve as run
    except ImportError as exc:
        print(f"otel-llm serve: {exc}; install it with: pip install 'otel-llm[serve]'", file=sys.stderr)
        return 2

    config = ReceiverConfig(
        host=args.host,
        http_port=args.http_port,
        grpc_port=args.grpc_port,
        token=args.token or None,
        max_body_bytes=args.max_body_bytes,
        max_decompressed_bytes=args.max_decompressed_bytes,
        max_spans_per_request=args.max_spans_per_request,
        max_attributes_per_request=args.max_attributes_per_request,
        max_memory_bytes=args.max_memory_bytes,
        forward_endpoint=args.forward_endpoint or None,
        forward_protocol=args.forward_protocol,
        workers=args.workers,
    )
    try:
        config.check()
    except (UnsafeBind, ValueError) as exc:
        print(f"otel-llm serve: {exc}", file=sys.stderr)
        return 2
    if config.workers > 1:
        from otel_llm.receiver.workers import serve_workers

        return serve_workers(config, args.url)
    run(config, build_exporter(config, args.url))
    return 0


COMMANDS = (register_init_db, register_query, register_serve, *analytics_commands.COMMANDS, *pricing_commands.COMMANDS)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="otel-llm", description="LLM cost and usage observability on ClickHouse")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for register in COMMANDS:
        register(sub)
    return parser


def _advice(exc: StorageError, url: str | None) -> str:
    """The store's message, or what to do when it only says that llm_traces is not there yet."""
    message = str(exc)
    if "UNKNOWN_TABLE" in message and "llm_traces" in message:
        return (
            f"no llm_traces table in {parse_url(url).url} yet: nothing was recorded there. Check --url / "
            "OTEL_LLM_CLICKHOUSE_URL, record some calls (`otel-llm demo`), or create it with `otel-llm init-db`"
        )
    return message


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # clickhouse-connect logs a warning of its own before raising what our one-line error
    # already says; without logging configured, Python would print it to stderr as a second line.
    logging.getLogger("clickhouse_connect").setLevel(logging.ERROR)
    try:
        return args.handler(args)
    except ConfigError as exc:
        print(f"otel-llm: {exc}", file=sys.stderr)
        return 2
    except StorageError as exc:
        print(f"otel-llm: {_advice(exc, getattr(args, 'url', None))}", file=sys.stderr)
        return 1
    except OSError as exc:  # a store directory or output file the OS refuses
        print(f"otel-llm: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
