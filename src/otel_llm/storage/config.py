"""Where the data goes: one setting, ``OTEL_LLM_CLICKHOUSE_URL``, parsed into a :class:`StoreConfig`.

Accepted forms::

    chdb://PATH                                   embedded chDB; relative or absolute path
                                                  (chdb:///abs/path, chdb://rel/path)
    http://user:password@host:port/database       ClickHouse HTTP interface (clickhouse-connect)
    https://user:password@host:port/database      same over TLS (ClickHouse Cloud: port 8443)
    ...?setting=value&setting=value               any ClickHouse settings, sent with every statement
    ...?compress=lz4 | ?compress=none             insert bodies LZ4-compressed or not (default:
                                                  compressed, except to a loopback host)

``?async_insert=1``: the server buffers inserts from many writers into fewer parts; otel-llm then
also sends ``wait_for_async_insert=1`` (a batch is acknowledged, and taken off the spool, only
once written) and ``async_insert_deduplicate=1`` with each batch's dedup token (a re-sent batch is
not stored twice: on Replicated tables; elsewhere ReplacingMergeTree collapses the copy when
merging). ``wait_for_async_insert=0`` is refused: it would acknowledge rows a crash can lose.

Unset or empty: embedded chDB at ``$OTEL_LLM_HOME/chdb``, ``OTEL_LLM_HOME`` defaulting to
``./.otel-llm``. Every store also gets a local spool directory (batches waiting to be written)
under a path derived from the URL, so that every process pointed at the same store agrees on it.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

from otel_llm.storage.errors import ConfigError

URL_ENV = "OTEL_LLM_CLICKHOUSE_URL"
HOME_ENV = "OTEL_LLM_HOME"
DEFAULT_HOME = ".otel-llm"

ACCEPTED_FORMS = (
    "chdb://PATH (embedded), "
    "http://user:password@host:port/database or https://user:password@host:port/database"
)


@dataclass(frozen=True)
class StoreConfig:
    kind: str  # "chdb" or "http"
    url: str  # as given, password masked; for messages and logs
    path: Path | None = None  # chdb data directory
    host: str = ""
    port: int = 0
    secure: bool = False
    username: str = "default"
    password: str = ""
    database: str = "default"
    settings: tuple[tuple[str, str], ...] = ()  # ClickHouse settings from the URL's query string
    insert_encoding: str = ""  # "lz4": insert bodies compressed (as clickhouse-connect's own inserts)

    @property
    def spool_dir(self) -> Path:
        """Batches not yet in the store. Embedded: next to the data directory, so every process
        opening the same PATH finds it; remote: under OTEL_LLM_HOME, keyed by server and database."""
        if self.path is not None:
            return self.path.with_name(self.path.name + ".spool")
        key = hashlib.sha256(f"{self.host}:{self.port}/{self.database}".encode()).hexdigest()[:16]
        return home() / "spool" / key

    @property
    def lock_path(self) -> Path:
        """The file whose ``flock`` makes one process at a time the owner (embedded: of the chDB
        directory; remote: of spool replay)."""
        return self.spool_dir / ".owner.lock"


def home() -> Path:
    return Path(os.environ.get(HOME_ENV) or DEFAULT_HOME).absolute()


def parse_url(url: str | None = None) -> StoreConfig:
    """Parse ``url``, or the environment when it is None, into a :class:`StoreConfig`."""
    source = "--url" if url is not None else URL_ENV
    if url is None:
        url = os.environ.get(URL_ENV, "").strip()
    if not url:
        return StoreConfig(kind="chdb", url="chdb://" + str(home() / "chdb"), path=home() / "chdb")

    def bad(reason: str) -> ConfigError:
        return ConfigError(f"{source}={_mask(url)!r}: {reason}; accepted forms: {ACCEPTED_FORMS}")

    scheme, sep, rest = url.partition("://")
    if not sep:
        raise bad("not a URL")
    scheme = scheme.lower()
    if scheme == "chdb":
        if not rest or "?" in rest or "#" in rest:
            raise bad("chdb:// needs a directory path and takes no options")
        path = Path(unquote(rest)).expanduser().absolute()
        return StoreConfig(kind="chdb", url=f"chdb://{path}", path=path)
    if scheme in ("http", "https"):
        parts = urlsplit(url)
        try:
            port = parts.port
        except ValueError:
            raise bad("the port is not a number") from None
        if not parts.hostname:
            raise bad("no host")
        database = unquote(parts.path.strip("/")) or "default"
        if "/" in database:
            raise bad("the path must be a single database name")
        settings = _settings(parts.query, bad)
        compress = dict(settings).get("compress", "none" if _loopback(parts.hostname) else "lz4")
        if compress not in ("lz4", "none"):
            raise bad(f"compress={compress!r}: expected lz4 or none")
        return StoreConfig(
            kind="http",
            url=_mask(url),
            host=parts.hostname,
            port=port or (8443 if scheme == "https" else 8123),
            secure=scheme == "https",
            username=unquote(parts.username or "default"),
            password=unquote(parts.password or ""),
            database=database,
            settings=tuple(pair for pair in settings if pair[0] != "compress"),
            insert_encoding="lz4" if compress == "lz4" else "",
        )
    raise bad(f"unknown scheme {scheme!r}")


def _loopback(host: str) -> bool:
    """A server on this machine: nothing to save on the wire, only CPU to spend compressing."""
    return host == "localhost" or host.startswith("127.") or host == "::1"


_SETTING_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _settings(query: str, bad) -> tuple[tuple[str, str], ...]:
    try:
        pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query))
    except ValueError:
        raise bad("the query string must be setting=value pairs joined by &") from None
    names = [name for name, _ in pairs]
    for name in names:
        if not _SETTING_NAME.match(name):
            raise bad(f"{name!r} is not a ClickHouse setting name")
    if len(set(names)) != len(names):
        raise bad("a setting is given twice")
    settings = dict(pairs)
    if settings.get("async_insert", "0") not in ("0", "") and settings.get("wait_for_async_insert", "1") != "1":
        raise bad("wait_for_async_insert=0 acknowledges rows before they are written (a crash would lose them); "
                  "otel-llm sends wait_for_async_insert=1 with async_insert=1, leave it out")
    return tuple(pairs)


def _mask(url: str) -> str:
    """The URL with its password replaced, for error messages and logs."""
    parts = urlsplit(url) if "://" in url else None
    if parts is None or parts.password is None:
        return url
    return url.replace(f":{parts.password}@", ":***@", 1)
