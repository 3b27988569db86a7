"""A directory of encoded batches waiting to be written: durable, ordered, shared by processes.

Each batch is one file named ``<time_ns>-<pid>-<token>-<rows>.<kind>`` so the listing sorts in
write order and carries what the drainer needs (row count for stats, dedup token for the insert)
without opening the file. ``kind`` is ``arrow`` (an Arrow IPC stream, see ``codec``), ``rows``
(row tuples as app workers spool them for the embedded store, see ``rowfile``) or ``json`` (a
remote store's batch as its writer sends it, see ``jsonrows``). Files appear atomically: written under a dot-prefixed temporary name,
fsynced, renamed, and the directory fsynced, so a reader never sees half a batch and a batch
acknowledged as spooled survives a power cut. A temporary file that a killed writer left behind
is removed once it is an hour old (age, not the writer's pid, decides: processes in other PID
namespaces may share the directory). A batch the store rejects as invalid is moved to
``rejected/`` for inspection instead of blocking the queue forever.

Several files of rows may be inserted at once (``drain``): the group is first written down as a
manifest ``group-<token>`` naming its files, the token derived from theirs, so that a store
process killed between the insert and the removal of the files repeats exactly that insert,
which the table then ignores, or, if some of the files are already gone (the insert committed),
removes the rest.

The spool never takes the last of its disk: below ``OTEL_LLM_SPOOL_MIN_FREE_BYTES`` free (256
MiB by default) a batch is refused, so that a long outage of the store costs telemetry rows,
counted and logged, rather than the app's own room to write.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from otel_llm.settings import env_number

if TYPE_CHECKING:
    from otel_llm.storage.base import Buffer

log = logging.getLogger("otel_llm.storage")

_NAME = re.compile(r"^(\d{20})-(\d+)-([0-9a-f]{32})-(\d+)\.(arrow|rows|json)$")
_TMP_PREFIX = ".tmp-"
_GROUP_PREFIX = "group-"
# No write of one batch takes this long; an older temporary file is a dead writer's.
ORPHAN_AGE_S = 3600.0
MIN_FREE_ENV = "OTEL_LLM_SPOOL_MIN_FREE_BYTES"
DEFAULT_MIN_FREE_BYTES = 256 << 20


@dataclass(frozen=True)
class SpoolFile:
    path: Path
    token: str
    rows: int
    kind: str = "arrow"

    @property
    def pid(self) -> int:
        """The process that spooled it."""
        return int(self.path.name.split("-", 2)[1])

    @property
    def spooled_ns(self) -> int:
        """When it was spooled (``time.time_ns()``)."""
        return int(self.path.name[:20])


@dataclass(frozen=True)
class Group:
    """Files inserted at once under one token (see the module's docstring)."""

    manifest: Path
    token: str
    items: list[SpoolFile]
    complete: bool  # every file is still there: the insert may not have happened


@dataclass
class Outcome:
    """What happened to rows: the writer's counts."""

    written: int = 0
    spooled: int = 0
    dropped: int = 0

    def add(self, other: Outcome) -> None:
        self.written += other.written
        self.spooled += other.spooled
        self.dropped += other.dropped


class Spool:
    def __init__(self, directory: Path):
        self.directory = directory
        self._min_free = env_number(MIN_FREE_ENV, DEFAULT_MIN_FREE_BYTES)

    def put(self, payload: Buffer, rows: int, token: str, kind: str = "arrow") -> None:
        """Store one batch durably; raises OSError when the disk cannot take it, or could only
        by going below the free space kept for others."""
        self.directory.mkdir(parents=True, exist_ok=True)
        free = shutil.disk_usage(self.directory).free
        if free - len(payload) < self._min_free:
            raise OSError(
                errno.ENOSPC,
                f"{free >> 20} MiB free on the spool's disk, and the spool leaves {self._min_free >> 20} MiB to "
                f"the rest of the machine ({MIN_FREE_ENV}); free some space",
            )
        self._write(f"{time.time_ns():020d}-{os.getpid()}-{token}-{rows}.{kind}", payload)

    def _write(self, name: str, payload: Buffer) -> None:
        tmp = self.directory / f"{_TMP_PREFIX}{name}"
        try:
            with open(tmp, "wb") as f:
                f.write(payload)
                f.flush()
                os.fsync(f.fileno())
            os.rename(tmp, self.directory / name)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        self._sync_directory()

    def begin_group(self, items: list[SpoolFile]) -> Group:
        """Write down that ``items`` are about to be inserted at once; the group's token is
        derived from their tokens, so repeating the insert is a no-op for the table."""
        token = group_token([item.token for item in items])
        manifest = self.directory / f"{_GROUP_PREFIX}{token}"
        self._write(manifest.name, "\n".join(item.path.name for item in items).encode())
        return Group(manifest, token, items, complete=True)

    def unfinished_groups(self) -> list[Group]:
        """Groups whose insert was begun by a process that did not end them (killed)."""
        try:
            names = sorted(name for name in os.listdir(self.directory) if name.startswith(_GROUP_PREFIX))
        except OSError:
            return []
        groups = []
        for name in names:
            manifest = self.directory / name
            try:
                listed = manifest.read_text().split()
            except OSError:
                continue
            items = [item for item in map(self._item, listed) if item is not None and item.path.exists()]
            groups.append(Group(manifest, name[len(_GROUP_PREFIX):], items, complete=len(items) == len(listed)))
        return groups

    @staticmethod
    def end_group(group: Group) -> None:
        group.manifest.unlink(missing_ok=True)

    def _item(self, name: str) -> SpoolFile | None:
        match = _NAME.match(name)
        if match is None:
            return None
        return SpoolFile(self.directory / name, match.group(3), int(match.group(4)), match.group(5))

    def pending(self) -> list[SpoolFile]:
        try:
            names = sorted(os.listdir(self.directory))
        except OSError:  # missing or unusable: nothing to replay (put() reports the real problem)
            return []
        found = []
        for name in names:
            item = self._item(name)
            if item is not None:
                found.append(item)
            elif name.startswith(_TMP_PREFIX):
                self._remove_if_orphaned(self.directory / name)
        return found

    @staticmethod
    def _remove_if_orphaned(tmp: Path) -> None:
        try:
            if time.time() - tmp.stat().st_mtime > ORPHAN_AGE_S:
                tmp.unlink()
        except OSError:  # renamed or removed meanwhile
            pass

    def has_pending(self) -> bool:
        try:
            with os.scandir(self.directory) as entries:
                return any(_NAME.match(e.name) for e in entries)
        except OSError:
            return False

    @staticmethod
    def read(item: SpoolFile) -> bytes | None:
        """The batch, or None if another process already took it."""
        try:
            return item.path.read_bytes()
        except FileNotFoundError:
            return None

    @staticmethod
    def remove(item: SpoolFile) -> None:
        item.path.unlink(missing_ok=True)

    def reject(self, item: SpoolFile) -> Path:
        rejected = self.directory / "rejected"
        rejected.mkdir(exist_ok=True)
        target = rejected / item.path.name
        os.replace(item.path, target)
        return target

    def _sync_directory(self) -> None:
        fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def group_token(tokens: list[str]) -> str:
    """The dedup token of an insert of the files with these tokens, in this order."""
    return hashlib.blake2b("".join(tokens).encode(), digest_size=16).hexdigest()


def spool_or_drop(spool: Spool, payload: Buffer, rows: int, token: str, kind: str = "arrow") -> Outcome:
    try:
        spool.put(payload, rows, token, kind)
    except OSError as exc:
        log.error("otel-llm: cannot spool %d rows to %s, dropping them: %s", rows, spool.directory, exc)
        return Outcome(dropped=rows)
    return Outcome(spooled=rows)
