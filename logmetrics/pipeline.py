"""The one chain after parsing — redact → filter → sinks — used by `run`, `parse` and both replays.

    sources ──lines──▶ parse ──events──▶ Pipeline: redact ─▶ filter ─▶ sink, sink, …
    (files, tail,       (envelopes,              (transforms/)         (sinks/: metrics,
     framing)            engine)                                        summary, JSON lines)

Secrets are gone before anything counts, summarises or writes an event, so no
sink can leak one. Sinks receive batches in order; aggregates (metrics, the
summary) come before writers, so a writer that refuses a batch (a full disk)
leaves them consistent, and the caller retries just that writer and the ones
after it (`DeliveryError.index`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

__all__ = ["DeliveryError", "Event", "Pipeline", "Sink"]

Event = dict[str, Any]


class Sink(Protocol):
    """Where events go: `write` a batch (in order). A writer may raise OSError: the batch was not taken."""

    def write(self, events: Sequence[Event]) -> None: ...


class DeliveryError(Exception):
    """Sink `index` refused a batch (`error`); the sinks before it have taken it."""

    def __init__(self, index: int, error: OSError) -> None:
        super().__init__(str(error))
        self.index = index
        self.error = error


class Pipeline:
    """redact → filter → sinks, for batches of parsed events."""

    __slots__ = ("keep", "redact", "sinks")

    def __init__(self, sinks: Sequence[Sink] = (), *, redact: Callable[[list[Event]], list[Event]] | None = None,
                 keep: Callable[[list[Event]], list[Event]] | None = None) -> None:
        """`redact`: rewrites events in place (transforms/redact.py); `keep`: returns the events to keep
        (transforms/filter.py), None for all."""
        self.sinks = list(sinks)
        self.redact = redact
        self.keep = keep

    def __call__(self, events: list[Event]) -> None:
        """The whole chain for one batch."""
        self.deliver(self.transform(events))

    def transform(self, events: list[Event]) -> list[Event]:
        """The transforms alone: what every sink will see."""
        if self.redact is not None and events:
            events = self.redact(events)
        if self.keep is not None and events:
            events = self.keep(events)
        return events

    def deliver(self, events: list[Event], start: int = 0) -> None:
        """Transformed events to the sinks from `start` on; DeliveryError names the first that refused."""
        if not events:
            return
        for i in range(start, len(self.sinks)):
            try:
                self.sinks[i].write(events)
            except OSError as e:
                raise DeliveryError(i, e) from e

    def sync(self) -> None:
        """Make what the sinks took durable (before positions that cover it are saved)."""
        for s in self.sinks:
            sync = getattr(s, "sync", None)
            if sync is not None:
                sync()

    def reopen(self) -> None:
        """Reopen file sinks (SIGHUP after an external logrotate moved them); OSError if one cannot."""
        for s in self.sinks:
            reopen = getattr(s, "reopen", None)
            if reopen is not None:
                reopen()
