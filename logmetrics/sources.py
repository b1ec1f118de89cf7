"""Sources for offline replay: which files a set of paths means, and their lines in batches.

Lines come out as `bytes` in batches (one `list` per ~1 MiB read), so that the
per-line cost is the engine's alone. Memory is bounded whatever the input: a line
longer than `max_line` is cut there (and counted), the rest skipped to its newline.
"""

from __future__ import annotations

import glob
import gzip
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

from .errors import UserError
from .stats import Stats

__all__ = ["SourceError", "SourceFile", "describe_file", "expand_paths", "is_log_name", "open_log", "read_batches"]

# ~150 lines a batch: a batch's events (and their JSON) stay in the CPU's cache from parsing through
# redaction to output. 256 KiB batches (~2.5k events, a few MB) were ~10% slower end to end, from
# cache misses alone (benchmarks/compare.py); below ~16 KiB per-batch costs start to show.
CHUNK = 16 * 1024
# What a log file is called, when a folder is walked (explicit file arguments are always read).
_LOG_NAME = re.compile(r"(\.(log|txt|out|err|jsonl|journal)(\.\d+)?|\.\d+)(\.gz)?$|^[^.]+$", re.I)
# Files that sit beside container logs and look like logs by name, but are not.
_NOT_LOGS = frozenset({"hostname", "hosts", "resolv.conf", "mounts", "checkpoints", "LICENSE", "Makefile"})


def is_log_name(name: str) -> bool:
    """Whether a file met while walking a folder is a log (explicit file arguments are always read)."""
    return not name.startswith(".") and name not in _NOT_LOGS and bool(_LOG_NAME.search(name))
_CRI_PATH = re.compile(r"(?:^|/)(?P<ns>[^/_]+)_(?P<pod>[^/_]+)_(?P<uid>[0-9a-f-]{8,})/(?P<container>[^/]+)/\d+\.log")


class SourceError(UserError):
    """A path argument that names nothing readable; the message names it."""


@dataclass(frozen=True)
class SourceFile:
    """A file to read, with what its location says about the lines in it."""

    path: Path
    container: str | None = None
    app_hint: str | None = None


def expand_paths(paths: list[str]) -> list[Path]:
    """Files, folders (recursively, log-named files only) and globs → sorted unique files."""
    out: dict[Path, None] = {}
    for arg in paths:
        matches = sorted(glob.glob(arg, recursive=True)) if glob.has_magic(arg) else [arg]
        if not matches:
            raise SourceError(f"{arg}: no file matches")
        for m in matches:
            p = Path(m)
            if p.is_dir():
                found = sorted(
                    f for f in p.rglob("*") if f.is_file() and is_log_name(f.name)
                )
                if not found and not glob.has_magic(arg):
                    raise SourceError(f"{arg}: no log files in this folder")
                out.update(dict.fromkeys(found))
            elif p.is_file():
                out[p] = None
            elif not p.exists():
                raise SourceError(f"{arg}: no such file or folder")
            else:
                raise SourceError(f"{arg}: not a regular file or folder")
    if not out:
        raise SourceError(f"{' '.join(paths)}: no log files found")
    return list(out)


def describe_file(path: Path) -> SourceFile:
    """Container name and app hint from where the file sits (Docker json-file and CRI layouts)."""
    name = path.name
    if name.endswith("-json.log") or ("-json.log." in name):
        cfg = path.parent / "config.v2.json"
        try:
            data = json.loads(cfg.read_text(encoding="utf-8"))
            cname = str(data.get("Name", "")).lstrip("/") or None
        except (OSError, ValueError, AttributeError):
            cname = None
        if cname:
            return SourceFile(path, container=cname, app_hint=cname)
        return SourceFile(path, container=path.parent.name[:12] or None)
    m = _CRI_PATH.search(path.as_posix())
    if m is not None:
        return SourceFile(path, container=m.group("container"), app_hint=f"{m.group('pod')} {m.group('container')}")
    return SourceFile(path, app_hint=f"{path.parent.name} {path.name}")


def open_log(path: Path) -> BinaryIO:
    """Open for binary reading; gzip recognised by its magic bytes, not its name."""
    f = open(path, "rb")  # noqa: SIM115 - returned to the caller
    head = f.peek(2)[:2] if isinstance(f, io.BufferedReader) else b""
    if head == b"\x1f\x8b":
        return gzip.GzipFile(fileobj=f, mode="rb")  # type: ignore[return-value]
    return f


class Readable(Protocol):
    """What `read_batches` needs of a file: `read(n)`."""

    def read(self, n: int = -1, /) -> bytes: ...


def read_batches(f: Readable, stats: Stats, max_line: int = 1 << 20, chunk: int = CHUNK) -> Iterator[list[bytes]]:
    """Lines without their newline, in batches; a last line without newline is still a line."""
    pending = b""
    skipping = False
    while True:
        # A line longer than a chunk: read as much again as is pending, so joining stays linear.
        data = f.read(max(chunk, len(pending)))
        if not data:
            break
        stats.bytes += len(data)
        if skipping:
            nl = data.find(b"\n")
            if nl < 0:
                continue
            data = data[nl + 1:]
            skipping = False
        if pending:
            data = pending + data
        lines = data.split(b"\n")
        pending = lines.pop()
        if len(pending) > max_line:
            lines.append(pending[:max_line])
            stats.malformed["oversized"] += 1
            pending = b""
            skipping = True
        if lines:
            yield lines
    if pending:
        yield [pending]
