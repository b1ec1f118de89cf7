"""Which events a replay keeps: `--app`, `--since`, `--until`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..core.errors import UserError
from ..parse.timestamps import parse_ts

__all__ = ["EventFilter"]

Event = dict[str, Any]


@dataclass(frozen=True)
class EventFilter:
    """Keeps the events of one app within a time range; timestamps compare as normalised RFC 3339 strings."""

    app: str | None = None
    since: str | None = None
    until: str | None = None

    @classmethod
    def build(cls, app: str | None, since: str | None, until: str | None) -> EventFilter:
        """From the flags as typed: a full stamp, minutes without seconds, or a bare date."""
        def norm(flag: str, v: str | None) -> str | None:
            if v is None:
                return None
            ts = parse_ts(v, "auto") or parse_ts(v + ":00", "auto") or parse_ts(v + "T00:00:00", "auto")
            if ts is None:
                raise UserError(f"{flag} {v!r}: not a timestamp (use e.g. 2026-11-03T10:00:00Z)")
            return ts
        flt = cls(app, norm("--since", since), norm("--until", until))
        if flt.since is not None and flt.until is not None and flt.since >= flt.until:
            raise UserError(f"--since {since!r} is not before --until {until!r}: no event could be kept")
        return flt

    @property
    def active(self) -> bool:
        return bool(self.app or self.since or self.until)

    def __call__(self, events: list[Event]) -> list[Event]:
        app, since, until = self.app, self.since, self.until
        return [
            e for e in events
            if (app is None or e["app"] == app)
            and (since is None or e["ts"] >= since)
            and (until is None or e["ts"] < until)
        ]
