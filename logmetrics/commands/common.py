"""What several commands share: settings + parser definitions → an engine."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..config import Settings, load_settings
from ..parse.definitions import DefinitionError, load_definitions
from ..parse.engine import Engine

_M_TRIM_THRESHOLD, _M_TOP_PAD = -1, -2  # glibc mallopt parameters


def keep_heap(pad_bytes: int = 64 << 20) -> None:
    """Stop glibc returning the heap top to the kernel after every batch.

    Each batch frees ~100k small objects, glibc trims the heap, and the next batch
    grows it again: thousands of brk calls and page faults, ~20% of a replay's time
    in the kernel. Peak RSS does not change (the pad is reused, not added). No-op off glibc.
    """
    try:
        import ctypes

        libc = ctypes.CDLL(None)
        libc.mallopt(_M_TRIM_THRESHOLD, pad_bytes)
        libc.mallopt(_M_TOP_PAD, pad_bytes // 4)
    except (OSError, AttributeError):
        pass


def settings_and_engine(
    parsers: list[Path], config: Path | None, force_app: str | None = None, inherit_ts: bool = False,
    **overrides: Any,
) -> tuple[Settings, Engine]:
    """Load settings (file < env < flags) and compile the definitions they name."""
    settings = load_settings(config, {"parsers": [str(p) for p in parsers], **overrides})
    definitions = load_definitions([Path(p) for p in settings.parsers])
    if force_app is not None:
        known = sorted(d.app for d in definitions if not d.fallback)
        if force_app not in known:
            raise DefinitionError(f"--app {force_app!r}: no parser definition for it (known: {', '.join(known)})")
        definitions = [d for d in definitions if d.app == force_app or d.fallback]
    return settings, Engine(definitions, max_line=settings.max_line_bytes, inherit_ts=inherit_ts)
