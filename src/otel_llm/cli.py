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
import sys
import uuid

from otel_llm.analytics import commands as analytics_commands
from otel_llm.storage import ConfigError, StorageError, open_store, parse_url
from otel_llm.storage import schema as schema_mod

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
    return str(value)


def _json_default(value):
    if isinstance(value, (uuid.UUID, decimal.Decimal, datetime.date)):
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
COMMANDS = (register_init_db, register_query, *analytics_commands.COMMANDS)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="otel-llm", description="LLM cost and usage observability on ClickHouse")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for register in COMMANDS:
        register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except ConfigError as exc:
        print(f"otel-llm: {exc}", file=sys.stderr)
        return 2
    except StorageError as exc:
        print(f"otel-llm: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
