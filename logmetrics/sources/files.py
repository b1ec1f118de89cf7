"""Which files a set of paths means — the one discovery both `replay` and `run` use.

A path is a file (always read, a symlink included: it was named), `-` (standard
input, replay only), a folder (walked recursively; log-named files only) or a
glob (its matches are read as the pattern says, like the shell's). What a walk
meets is read only when it looks like a log; a symlink met in a walk or a glob,
only when its target lies under a root that was asked for (a folder or a glob's
fixed part) — otherwise anyone who can write into a watched folder could ship
`/etc/shadow` as events. `follow_symlinks = true` lifts that.

A log name (`is_log_name`), what a user with a log folder expects to be read:
`*.log` and its rotations (`app.log.1`, `app.log-20260101`, `0.log.20260101-120000`
of CRI), `app.1`, `*.out`/`*.err` (nohup, supervisord), `*.jsonl`, names without an
extension (`syslog`, `messages`) except the well-known files that are not logs
(`README`, `LICENSE`, `Makefile`, Docker's `hostname`/`hosts`), and each of these
compressed (`.gz`). Docker json-file (`<id>-json.log`), CRI (`0.log`) and journalctl
exports (`ollama.journal.log`) are `.log` files. Not read: hidden files, `readme.txt`,
`notes.md`, `config.v2.json`, archives (`logs.tar.gz`) and journald's own binary
`*.journal` files (export them with `journalctl -o short-iso`). Everything skipped is
reported with why (`Discovery.skipped`).
"""

from __future__ import annotations

import glob
import gzip
import io
import json
import os
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from ..core.errors import UserError

__all__ = ["COMPRESSED", "Discovery", "SourceError", "SourceFile", "describe_file", "discover", "is_gzip",
           "is_log_name", "open_log", "resolve_paths", "skip_reason", "watch_roots"]

# What a log file is called, when a folder is walked (explicit file arguments are always read):
# app.log, app.log.1, app.log-20260101, app.1, syslog, messages, events.jsonl, nohup.out; each also .gz.
_LOG_NAME = re.compile(r"(\.(log|out|err|jsonl)([.-][\d-]+)?|\.\d+)(\.gz)?$|^[^.]+(\.gz)?$", re.I)
NOT_A_LOG_NAME = "not a log file name"
BINARY_JOURNAL = "a binary journald file (read `journalctl -o short-iso` output instead)"
# Names that look like logs (no extension) but are not: they sit beside container logs and in repositories.
_NOT_LOGS = frozenset({"hostname", "hosts", "resolv.conf", "mounts", "checkpoints", "license", "makefile",
                       "readme", "dockerfile", "changelog", "notice", "authors", "copying", "config.v2.json"})
_CRI_PATH = re.compile(r"(?:^|/)(?P<ns>[^/_]+)_(?P<pod>[^/_]+)_(?P<uid>[0-9a-f-]{8,})/(?P<container>[^/]+)/\d+\.log")
_GZIP_MAGIC = b"\x1f\x8b"
COMPRESSED = (".gz", ".bz2", ".xz", ".zst", ".lz4", ".zip")


def is_log_name(name: str) -> bool:
    """Whether a file met while walking a folder is a log (explicit file arguments are always read)."""
    return (not name.startswith(".") and name.lower().removesuffix(".gz") not in _NOT_LOGS
            and bool(_LOG_NAME.search(name)))


def skip_reason(name: str) -> str | None:
    """Why a walk or glob passes over a file of this name (None: it is read)."""
    if is_log_name(name):
        return None
    return BINARY_JOURNAL if name.endswith((".journal", ".journal~")) else NOT_A_LOG_NAME


class SourceError(UserError):
    """A path argument that names nothing readable; the message names it."""


@dataclass
class Discovery:
    """The files a set of paths means, in order, and what was passed over (path, why)."""

    files: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    unmatched: list[str] = field(default_factory=list)  # arguments that matched nothing (yet)


def _roots(patterns: Iterable[str]) -> list[str]:
    """The real paths a symlink met in a walk or glob may point into: each folder, glob base and named file."""
    out = []
    for pat in patterns:
        if glob.has_magic(pat):
            fixed = []
            for part in Path(pat).parts:
                if glob.has_magic(part):
                    break
                fixed.append(part)
            pat = str(Path(*fixed)) if fixed else "."
        out.append(os.path.realpath(pat))
    return out


def _inside(real: str, roots: Sequence[str]) -> bool:
    return any(real == r or real.startswith(r.rstrip("/") + "/") for r in roots)


def discover(patterns: Sequence[str], *, follow_symlinks: bool = False, live: bool = False,
             exclude: Iterable[str] = ()) -> Discovery:
    """Files, folders (recursively) and globs → files in order, each once.

    `live`: for the tailer — compressed files (finished rotations) are not followed, and a named
    file that does not exist yet is kept (it will be watched for). `exclude`: real paths never read
    (our own output and its rotations, the positions file).
    """
    out = Discovery()
    roots = _roots(patterns)
    excluded = {os.path.realpath(p) for p in exclude}
    seen: dict[str, None] = {}

    def take(path: str, named: bool) -> None:
        if path in seen:
            return
        real = os.path.realpath(path)
        if real in excluded or any(real.startswith(x + ".") and real[len(x) + 1:].isdigit() for x in excluded):
            return
        if not named and os.path.islink(path) and not follow_symlinks and not _inside(real, roots):
            out.skipped.append((path, f"symlink to {real}, outside the paths given (follow_symlinks = true "
                                      "follows it)"))
            return
        seen[path] = None

    for pat in patterns:
        if pat == "-" and not live:  # standard input (replay): read once, where it was named
            seen.setdefault("-", None)
            continue
        magic = glob.has_magic(pat)
        matches = sorted(glob.glob(pat, recursive=True)) if magic else [pat]
        if not matches:
            out.unmatched.append(pat)
        for m in matches:
            if os.path.isdir(m):
                walked: list[str] = []
                for root, dirs, names in os.walk(m):
                    dirs[:] = [d for d in dirs if not d.startswith(".")]
                    for n in names:
                        p = os.path.join(root, n)
                        if live and n.endswith(COMPRESSED):
                            continue
                        why = skip_reason(n)
                        if why is not None:
                            out.skipped.append((p, why))
                        elif os.path.isfile(p):  # not a dangling symlink, a socket, a fifo
                            walked.append(p)
                for p in sorted(walked, key=Path):  # path order: folder by folder, as a person reads a tree
                    take(p, named=False)
                if not walked and not magic:
                    out.unmatched.append(pat)
            elif live and magic and m.endswith(COMPRESSED):
                continue
            elif os.path.isfile(m):
                take(m, named=not magic)
            elif not magic:
                out.unmatched.append(pat)
                if live:  # followed once it appears
                    take(m, named=True)
    out.files = list(seen)
    return out


def resolve_paths(patterns: Sequence[str], *, follow_symlinks: bool = False) -> Discovery:
    """`discover` for a replay: every argument must name something readable (SourceError otherwise)."""
    if patterns.count("-") > 1:
        raise SourceError("-: standard input named more than once")
    for pat in patterns:
        if pat == "-":
            continue
        if not glob.has_magic(pat) and os.path.lexists(pat) and not os.path.exists(pat):
            raise SourceError(f"{pat}: a symlink to nothing")
        if not glob.has_magic(pat) and os.path.exists(pat) and not (os.path.isdir(pat) or os.path.isfile(pat)):
            raise SourceError(f"{pat}: not a regular file or folder")
    found = discover(patterns, follow_symlinks=follow_symlinks)
    for pat in found.unmatched:
        if glob.has_magic(pat):
            raise SourceError(f"{pat}: no file matches")
        if os.path.isdir(pat):
            raise SourceError(f"{pat}: no log files in this folder")
        raise SourceError(f"{pat}: no such file or folder")
    if not found.files:
        raise SourceError(f"{' '.join(patterns)}: no log files found")
    return found


@dataclass(frozen=True)
class SourceFile:
    """A file to read, with what its location says about the lines in it."""

    path: Path
    container: str | None = None
    app_hint: str | None = None
    mtime: float | None = None  # the time of lines that have none and nothing earlier to take one from

    def _replace_mtime(self, mtime: float | None) -> SourceFile:
        return SourceFile(self.path, self.container, self.app_hint, mtime)


def describe_file(path: Path) -> SourceFile:
    """Container name and app hint from where the file sits (Docker json-file and CRI layouts), and
    its modification time."""
    if str(path) == "-":  # standard input: no location, no modification time
        return SourceFile(path)
    try:
        mtime: float | None = path.stat().st_mtime
    except OSError:
        mtime = None
    return _describe(path)._replace_mtime(mtime)


def _describe(path: Path) -> SourceFile:
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
    parent = path.parent.name
    if parent.lower() in ("logs", "log"):  # an app's own log folder (`DeepChat/logs/main.log`): its owner names it
        parent = f"{path.parent.parent.name} {parent}"
    return SourceFile(path, app_hint=f"{parent} {path.name}")


def is_gzip(path: str | Path) -> bool:
    """By its magic bytes, not its name."""
    try:
        with open(path, "rb") as f:
            return f.read(2) == _GZIP_MAGIC
    except OSError:
        return False


def open_log(path: Path) -> BinaryIO:
    """Open for binary reading (`-`: standard input); gzip recognised by its magic bytes, not its name."""
    # Returned to the caller, who closes it (standard input's descriptor itself stays open).
    f = open(sys.stdin.fileno() if str(path) == "-" else path, "rb", closefd=str(path) != "-")  # noqa: SIM115
    head = f.peek(2)[:2] if isinstance(f, io.BufferedReader) else b""
    if head == _GZIP_MAGIC:
        return gzip.GzipFile(fileobj=f, mode="rb")  # type: ignore[return-value]
    return f


def watch_roots(patterns: Sequence[str]) -> tuple[set[str], set[str]]:
    """Folders to watch for these patterns: (recursive, flat). Missing folders → nearest existing parent."""
    recursive: set[str] = set()
    flat: set[str] = set()
    for pat in patterns:
        if glob.has_magic(pat):
            parts = Path(pat).parts
            fixed: list[str] = []
            for part in parts:
                if glob.has_magic(part):
                    break
                fixed.append(part)
            base = str(Path(*fixed)) if fixed else "."
            deep = len(fixed) < len(parts) - 1  # magic in a folder part (or **): watch the subtree
            target = recursive if deep else flat
        elif os.path.isdir(pat):
            base, target = pat, recursive
        else:
            base, target = os.path.dirname(pat) or ".", flat
        probe = base
        while not os.path.isdir(probe):
            parent = os.path.dirname(probe.rstrip("/")) or "."
            if parent == probe:
                break
            probe, target = parent, recursive  # the missing folders will appear below it
        target.add(probe)
    flat -= recursive
    return recursive, flat
