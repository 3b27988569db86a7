"""The ``stats``, ``report``, ``trace`` and ``demo`` subcommands of ``otel-llm`` (see cli.py).

Handlers return the exit code: 0 ok, 1 nothing found or the store failed, 2 bad usage.
"""

from __future__ import annotations

import errno
import os
import sys
from pathlib import Path

from otel_llm.analytics import queries, render, report, stats, trace
from otel_llm.analytics.window import WindowError, parse_window
from otel_llm.storage import open_store

URL_HELP = "store URL (default: $OTEL_LLM_CLICKHOUSE_URL, else embedded chDB under $OTEL_LLM_HOME)"
SINCE_HELP = "start of the window: an age (30m, 24h, 7d, 2w; units s/m/h/d/w) or an ISO time (UTC)"
UNTIL_HELP = "end of the window, same forms (default: now)"


def _fail(message: str, code: int = 1) -> int:
    print(f"otel-llm: {message}", file=sys.stderr)
    return code


def _window_arguments(parser) -> None:
    parser.add_argument("--since", default="24h", help=SINCE_HELP + " (default: 24h)")
    parser.add_argument("--until", help=UNTIL_HELP)
    parser.add_argument("--url", help=URL_HELP)


def register_stats(sub) -> None:
    p = sub.add_parser("stats", help="calls, errors, tokens, cost, latency and cache use over a time window")
    _window_arguments(p)
    p.add_argument("--by", choices=tuple(queries.DIMENSIONS), default="model", help="group rows by (default: model)")
    p.add_argument("--format", choices=tuple(render.RENDERERS), default="table")
    p.set_defaults(handler=run_stats)


def run_stats(args) -> int:
    try:
        window = parse_window(args.since, args.until)
    except WindowError as exc:
        return _fail(str(exc), 2)
    store = open_store(args.url)
    try:
        result = stats.compute(store, window, args.by)
    except stats.NoData as exc:
        return _fail(str(exc))
    finally:
        store.close()
    sys.stdout.write(render.RENDERERS[args.format](result))
    return 0


def register_report(sub) -> None:
    p = sub.add_parser("report", help="write a self-contained HTML report with charts (opens offline)")
    p.add_argument("--html", required=True, metavar="FILE", help="where to write the page")
    _window_arguments(p)
    p.set_defaults(handler=run_report)


def run_report(args) -> int:
    try:
        window = parse_window(args.since, args.until)
    except WindowError as exc:
        return _fail(str(exc), 2)
    try:
        path = write_report(args.url, window, Path(args.html))
    except stats.NoData as exc:
        return _fail(str(exc))
    print(f"wrote {path} — open it in a browser (works offline)")
    return 0


def write_report(url: str | None, window, path: Path) -> Path:
    """Build the report for ``window`` and write it to ``path``; progress goes to stderr."""
    path = path.expanduser().absolute()
    if path.is_dir():
        raise IsADirectoryError(errno.EISDIR, "the report's path is a directory; name a file", str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    # Written aside and renamed: a page cut short (disk full, Ctrl-C) never replaces the last report.
    partial = path.with_name(f".{path.name}.partial")
    try:
        # Opened first, so an unwritable destination fails now rather than after minutes of queries.
        with partial.open("w", encoding="utf-8") as out:
            store = open_store(url)
            try:
                page = report.build(store, window, progress=lambda step: print(f"report {step}", file=sys.stderr))
            finally:
                store.close()
            out.write(page)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return path


def register_trace(sub) -> None:
    p = sub.add_parser("trace", help="every column of one call (row id) or of all calls of a trace (trace id)")
    p.add_argument("id", help="a row id (UUID) or a trace id (32 hex digits)")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.add_argument("--url", help=URL_HELP)
    p.set_defaults(handler=run_trace)


def run_trace(args) -> int:
    store = open_store(args.url)
    try:
        rows = trace.find(store, args.id)
    except trace.NotFound as exc:
        return _fail(str(exc))
    finally:
        store.close()
    sys.stdout.write(trace.as_json(rows) if args.format == "json" else trace.as_text(rows))
    return 0


def register_demo(sub) -> None:
    p = sub.add_parser(
        "demo",
        help="record a small workload through the real OpenAI and Anthropic SDKs (local stand-in "
        "endpoints unless --live), then print stats and write the HTML report",
    )
    p.add_argument("--html", default="otel-llm-report.html", metavar="FILE",
                   help="report to write (default: otel-llm-report.html)")
    p.add_argument("--url", help=URL_HELP)
    p.add_argument("--live", action="store_true",
                   help="call the real providers with OPENAI_API_KEY / ANTHROPIC_API_KEY (costs money)")
    p.set_defaults(handler=run_demo)


def run_demo(args) -> int:
    from otel_llm.analytics import (
        demo,  # imports the provider SDKs: only when asked for
    )

    return demo.run(url=args.url, html=Path(args.html), live=args.live)


COMMANDS = (register_stats, register_report, register_trace, register_demo)
