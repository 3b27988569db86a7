"""``otel-llm prices`` (what is priced, and how) and ``otel-llm reprice`` (stored rows again)."""

from __future__ import annotations

import json
import os
import sys
from datetime import datetime, timezone

from otel_llm.storage import open_store

from . import reload
from .providers import price_data_id, semconv_name

URL_HELP = "store URL (default: $OTEL_LLM_CLICKHOUSE_URL, else embedded chDB under $OTEL_LLM_HOME)"


def register_prices(sub) -> None:
    p = sub.add_parser(
        "prices",
        help="the price in force for a model (per component, with its source) or why it has none; "
        "`prices update` fetches newer genai-prices data",
    )
    p.add_argument("model", nargs="?", help="a model id as the API reports it; `update` to refresh the data")
    p.add_argument("--provider", help="gen_ai.provider.name (openai, anthropic, groq, openrouter, aws.bedrock...)")
    p.add_argument("--tier", help="service tier (flex, priority, batch...)")
    p.set_defaults(handler=run_prices)


def run_prices(args) -> int:
    from . import catalog

    if args.model == "update":
        return _update()
    prices = catalog.current()
    print(f"price data: {prices.version}" + (f" (overrides: {prices.overrides.path})" if prices.overrides else ""))
    if args.model:
        return _show_model(prices, args.provider, args.model, args.tier)
    if args.provider:
        return _list_models(prices, args.provider)
    for provider in prices.snapshot.providers:
        print(f"  {semconv_name(provider.id):24} {len(provider.models):5} models  {provider.name}")
    return 0


def _show_model(prices, provider: str | None, model: str, tier: str | None) -> int:
    resolved = prices.resolve(provider, model)
    if resolved.key is None:
        print(f"{model} (provider {provider!r}): not priced: {resolved.unpriced_reason}")
        return 1
    from .cost import _context

    price = prices.price(resolved, None, _context(tier))
    source = resolved.source if resolved.override is None else f"override file {resolved.source}"
    print(f"{model} (provider {provider!r}) -> {resolved.key}, from {source}" + (f", tier {tier}" if tier else ""))
    if price is None:
        print("  no price in force now")
        return 1
    for component, (value, per) in price.rates.items():
        unit = "MTok" if per == 1_000_000 else f"{per:,}"
        print(f"  {component:24} {_rate(value)} per {unit}")
    return 0


def _rate(value) -> str:
    from genai_prices.types import TieredPrices

    if isinstance(value, TieredPrices):
        tiers = "; ".join(f"above {t.start:,} input tokens ${t.price}" for t in value.tiers)
        return f"${value.base}  ({tiers})"
    return f"${value}"


def _list_models(prices, provider: str) -> int:
    data_id = price_data_id(provider)
    found = [p for p in prices.snapshot.providers if p.id == data_id]
    if not found:
        print(f"no price data for provider {provider!r}")
        return 1
    now = datetime.now(timezone.utc)
    for model in found[0].models:
        current = model.get_prices(now)
        print(f"  {model.id:48} input ${_flat(current.input_mtok)}  output ${_flat(current.output_mtok)} per MTok")
    return 0


def _flat(value) -> str:
    if value is None:
        return "-"
    return f"{value.base}+" if hasattr(value, "tiers") else str(value)


def _update() -> int:
    """Fetch genai-prices' latest data once and keep it where pricing reads it (no network at
    run time: apps read the saved file at their first priced call)."""
    import httpx2
    from genai_prices.types import _providers_from_raw
    from genai_prices.update_prices import DEFAULT_UPDATE_URL

    from . import catalog

    target = catalog.refreshed_file()
    try:
        response = httpx2.get(DEFAULT_UPDATE_URL, timeout=httpx2.Timeout(timeout=30, connect=10))
        response.raise_for_status()
        providers = _providers_from_raw(json.loads(response.content))
    except Exception as error:  # noqa: BLE001 - offline, refused, or not price data: say so
        print(f"otel-llm prices update: could not fetch {DEFAULT_UPDATE_URL}: {error}", file=sys.stderr)
        return 1
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    partial.write_bytes(response.content)
    os.replace(partial, target)
    reload()
    print(f"saved {sum(len(p.models) for p in providers)} models of {len(providers)} providers to {target}")
    print(f"price data now: {catalog.current().version}")
    return 0


def register_reprice(sub) -> None:
    p = sub.add_parser("reprice", help="recompute the cost of stored rows unpriced or priced by older data")
    p.add_argument("--since", default="30d", help="rows from this age or time on (default: 30d)")
    p.add_argument("--until", help="rows before this age or time (default: now)")
    p.add_argument("--url", help=URL_HELP)
    p.set_defaults(handler=run_reprice)


def run_reprice(args) -> int:
    from otel_llm.analytics.window import WindowError, parse_window

    from .reprice import reprice

    try:
        window = parse_window(args.since, args.until)
    except WindowError as exc:
        print(f"otel-llm reprice: {exc}", file=sys.stderr)
        return 2

    def progress(result) -> None:
        print(f"  {result.scanned:,} rows checked, {result.updated:,} updated", file=sys.stderr, flush=True)

    store = open_store(args.url)
    try:
        result = reprice(store, window.since, window.until, progress)
    finally:
        store.close()
    print(
        f"{window.describe()}: {result.scanned:,} rows unpriced or priced by "
        f"other data; {result.updated:,} updated ({result.priced:,} with a cost) to {result.pricing_version}"
    )
    return 0


COMMANDS = (register_prices, register_reprice)
