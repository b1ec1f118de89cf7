"""A bounded memo: the cache every per-line lookup uses, which hostile input cannot grow.

Lines repeat their stamps, levels, messages and paths, so per-line functions
remember results; a log of all-distinct values must not grow those tables
without bound, so a full table forgets everything and starts again (cheaper
than LRU bookkeeping on every hit, and a hit is one C-level dict lookup).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

__all__ = ["Memo"]

K = TypeVar("K")
V = TypeVar("V")


class Memo(dict[K, V], Generic[K, V]):
    """`memo[key]` is `fn(key)`, remembered; at `limit` entries the memo is cleared."""

    __slots__ = ("fn", "limit")

    def __init__(self, fn: Callable[[K], V], limit: int = 1 << 16) -> None:
        super().__init__()
        self.fn = fn
        self.limit = limit

    def __missing__(self, key: K) -> V:
        value = self.fn(key)
        if len(self) >= self.limit:
            self.clear()
        self[key] = value
        return value
