"""An append-only journal of JSON records that cannot lose or glue records.

Each record is one line, `<crc32 of the JSON, 8 hex digits> <JSON>\\n`, written unbuffered and fsynced
before `append` returns. A record is complete only if its line ends in a newline and its checksum matches,
so a record cut short by a crash, a full disk or a power loss is always detected. Only the tail can be torn
(records are appended one at a time): `repair` cuts a torn tail back to the last complete record before new
records are appended, and says what it dropped. A bad record followed by good ones is corruption, not a torn
write, and is an error.
"""

from __future__ import annotations

import json
import os
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class JournalError(ValueError):
    """The journal is corrupt before its last record."""


@dataclass(frozen=True)
class Tail:
    """A torn tail: the byte offset where complete records end and the bytes after it."""

    offset: int
    dropped: bytes

    def describe(self) -> str:
        preview = self.dropped[:60].decode("utf-8", "replace")
        return f"{len(self.dropped)} bytes of an incomplete record ({preview!r}...)"


def _frame(record: dict[str, Any]) -> bytes:
    payload = json.dumps(record, allow_nan=True, separators=(",", ":")).encode()
    return b"%08x %s\n" % (zlib.crc32(payload), payload)


def _parse(line: bytes) -> dict[str, Any] | None:
    """The record of one complete line (newline stripped), or None if its checksum or JSON is bad."""
    checksum, _, payload = line.partition(b" ")
    if len(checksum) != 8:
        return None
    try:
        if int(checksum, 16) != zlib.crc32(payload):
            return None
        record = json.loads(payload)
    except ValueError:
        return None
    return record if isinstance(record, dict) else None


class Journal:
    """The records of one file.

    Args:
        path: the journal file (created by the first `append`).
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._handle: Any = None

    def exists(self) -> bool:
        return self.path.exists()

    def scan(self) -> tuple[list[dict[str, Any]], Tail | None]:
        """Every complete record, and the torn tail after them (None if the file ends cleanly).

        Raises:
            JournalError: an incomplete or corrupt record is followed by complete ones.
        """
        if not self.path.exists():
            return [], None
        data = self.path.read_bytes()
        records, offset = [], 0
        while offset < len(data):
            end = data.find(b"\n", offset)
            record = _parse(data[offset:end]) if end >= 0 else None
            if record is None:
                rest = data[offset:]
                if any(_parse(line) is not None for line in rest.split(b"\n")[1:]):
                    raise JournalError(f"{self.path} is corrupt at byte {offset} (record {len(records) + 1}), "
                                       "and complete records follow: it was changed by something else than codecbench")
                return records, Tail(offset, rest)
            records.append(record)
            offset = end + 1
        return records, None

    def records(self) -> list[dict[str, Any]]:
        """Every complete record (a torn tail is left out)."""
        return self.scan()[0]

    def repair(self) -> Tail | None:
        """Cut a torn tail back to the last complete record; returns what was cut (None if nothing)."""
        _, tail = self.scan()
        if tail is not None:
            with open(self.path, "r+b") as handle:
                handle.truncate(tail.offset)
                handle.flush()
                os.fsync(handle.fileno())
        return tail

    def append(self, record: dict[str, Any]) -> None:
        """Write one record durably (fsynced) before returning; call `repair` first on an existing file.

        Raises:
            OSError: the write failed (e.g. a full disk), naming the journal; what is stored stays valid.
        """
        try:
            if self._handle is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._handle = open(self.path, "ab", buffering=0)  # no buffer that a later close would retry
            pending = memoryview(_frame(record))
            while pending:
                pending = pending[self._handle.write(pending):]
            os.fsync(self._handle.fileno())
        except OSError as exc:
            raise OSError(exc.errno, exc.strerror, str(self.path)) from exc

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None
