"""What makes two events "the same" for a sink: one route per path, one error per message.

`/api/v1/chats/3f2b…?x=1` and `/api/v1/chats/9a0c…` are one route; `connect to
10.0.4.14:11434 failed (111)` and the same with another address are one error.
Both are remembered (core/memo.py): paths and messages repeat line after line.
"""

from __future__ import annotations

import re

from ..core.memo import Memo

__all__ = ["normalise_message", "normalise_path"]

_ID_SEGMENT = re.compile(
    r"""
    \d+                                       # numeric id
    | (?=[0-9a-fA-F-]*\d)[0-9a-fA-F-]{8,}      # UUID (whole or cut), hex hash (with a digit)
    | (?=[\w-]*\d)(?=[\w-]*[a-zA-Z])[\w-]{20,}  # long opaque token (base64url, nanoid, ...)
    | (?:sha\d+|md5)[:-][0-9a-fA-F]{8,}           # content digest (Ollama blobs)
    """,
    re.X,
)


def _route(path: str) -> str:
    cut = len(path)
    for sep in "?#":
        i = path.find(sep)
        if 0 <= i < cut:
            cut = i
    parts = path[:cut].split("/")
    for i, seg in enumerate(parts):
        if seg and seg[0] != ":" and _ID_SEGMENT.fullmatch(seg):
            parts[i] = ":id"
    return "/".join(parts)


# `/api/v1/chats/3f2b…?x=1` → `/api/v1/chats/:id`: one series per route, not per object.
normalise_path = Memo(_route).__getitem__

_NORMALISE = re.compile(
    r"""
    (?P<id>\b[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}\b
        | \b(?=[0-9a-fA-F]*\d)(?=[0-9a-fA-F]*[a-fA-F])[0-9a-fA-F]{8,}\b)
    | (?P<ip>\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b)
    | (?P<dur>(?<![\w.])(?:\d+(?:\.\d+)?(?:h|m|s|ms|µs|us|ns))+(?![\w.]))
    | (?P<n>(?<![\w.])(?<!HTTP/)-?\d+(?:\.\d+)?(?!\w))
    """,
    re.X,
)


def _replacement(m: re.Match[str]) -> str:
    return f"<{m.lastgroup}>"


def _message(msg: str) -> str:
    out = _NORMALISE.sub(_replacement, msg.strip())
    return out[:299] + "…" if len(out) > 300 else out


# `client: 10.0.4.14 … (111: …)` → `client: <ip> … (<n>: …)`: groups one error's many instances.
normalise_message = Memo(_message).__getitem__
