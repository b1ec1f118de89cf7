"""Read positions: how far each followed file has been turned into written events.

A file is identified by device + inode *and* a fingerprint of its first bytes.
Device + inode tell apart two files whose contents start alike (two replicas
logging the same banner); the fingerprint tells apart two files that shared an
inode at different times (a file deleted and recreated while we were down, the
kernel handing the freed inode to the new one). The residual case — an inode
reused by a file whose first bytes are identical to the old one's first
`FINGERPRINT_BYTES` — is indistinguishable and is treated as the same file: if
the new file is already longer than the saved offset, its first `offset` bytes
are skipped; if shorter, it reads as a truncation and is read from 0.

The file is replaced atomically (write a temp file, fsync, rename, fsync the
folder) so a crash leaves either the old or the new positions, never half of
one. A file that cannot be parsed is reported and ignored: the caller starts
afresh, it never crash-loops on it.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import orjson

__all__ = [
    "FINGERPRINT_BYTES", "Position", "PositionsError", "digest", "fingerprint", "load_positions", "save_positions",
]

FINGERPRINT_BYTES = 256
_VERSION = 1


class PositionsError(ValueError):
    """The positions file exists but cannot be used; the message names it and says why."""


@dataclass(frozen=True, slots=True)
class Position:
    """Where reading of one file stands: the first byte not yet turned into a written event."""

    path: str
    dev: int
    ino: int
    fp: str  # hex digest of the first fp_len bytes
    fp_len: int
    offset: int
    skip: bool = False  # the offset is inside an over-long line: resume by skipping to its newline

    @property
    def ident(self) -> tuple[int, int]:
        return (self.dev, self.ino)


def digest(head: bytes) -> str:
    """The fingerprint of a file's first bytes (the one definition: positions and the tailer compare it)."""
    return hashlib.blake2b(head, digest_size=16).hexdigest()


def fingerprint(fd: int, size: int) -> tuple[str, int]:
    """Digest of the first min(size, FINGERPRINT_BYTES) bytes of an open file, and that length."""
    n = min(size, FINGERPRINT_BYTES)
    head = os.pread(fd, n, 0) if n else b""
    return digest(head), len(head)


def load_positions(path: str | Path) -> list[Position]:
    """Saved positions; [] when there is no file yet; PositionsError when it is unusable."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        return []
    except OSError as e:
        raise PositionsError(f"{p}: cannot read positions: {e.strerror}") from None
    try:
        data = orjson.loads(raw)
        if not isinstance(data, dict) or data.get("version") != _VERSION:
            raise ValueError("not a logmetrics positions file (version 1)")
        out = []
        for item in data["files"]:
            pos = Position(
                path=str(item["path"]), dev=int(item["dev"]), ino=int(item["ino"]), fp=str(item["fp"]),
                fp_len=int(item["fp_len"]), offset=int(item["offset"]), skip=bool(item.get("skip", False)),
            )
            if pos.offset < 0 or not 0 <= pos.fp_len <= FINGERPRINT_BYTES:
                raise ValueError(f"{pos.path}: offset/fingerprint out of range")
            out.append(pos)
        return out
    except (ValueError, KeyError, TypeError) as e:
        raise PositionsError(f"{p}: corrupt positions file ({e})") from None


def save_positions(path: str | Path, positions: list[Position], *, sync: bool = True) -> None:
    """Replace the positions file atomically; `sync` makes it survive a power cut, not just a crash."""
    p = Path(path)
    data = orjson.dumps({
        "version": _VERSION,
        "files": [
            {"path": x.path, "dev": x.dev, "ino": x.ino, "fp": x.fp, "fp_len": x.fp_len, "offset": x.offset,
             **({"skip": True} if x.skip else {})}
            for x in positions
        ],
    })
    tmp = p.with_name(f".{p.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        if sync:
            os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, p)
    if sync:
        try:
            dfd = os.open(p.parent if str(p.parent) else ".", os.O_RDONLY)
        except OSError:
            return
        try:
            os.fsync(dfd)
        except OSError:
            pass
        finally:
            os.close(dfd)
