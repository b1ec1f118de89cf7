"""What a replay prints, per `--format`: the one place that maps a format to its sinks and its output.

`table` and `json` aggregate into a Summary, `prom` into a MetricsSink (event
times, not read times, make `last_event`), `events` aggregates nothing and
streams JSON lines. Parallel replay builds one aggregate per worker and merges
them (`merge`), so the aggregate must come from here for both runners.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Sequence
from typing import Any, BinaryIO

import orjson

from ..config import Settings
from ..core.stats import Stats

__all__ = ["FORMATS", "aggregate_for", "write_report"]

FORMATS = ("table", "json", "prom", "events")


def aggregate_for(fmt: str, settings: Settings, stats: Stats) -> Any:
    """The sink that aggregates for `fmt` (Summary, MetricsSink), None for `events`."""
    if fmt in ("table", "json"):
        from ..sinks.summary import Summary

        return Summary(stats, buckets=settings.buckets)
    if fmt == "prom":
        from ..sinks.metrics import MetricsSink

        return MetricsSink(None, buckets=settings.buckets, label_limit=settings.label_limit,
                           series_limit=settings.series_limit, stats=stats, use_read_time=False)
    return None


def write_report(fmt: str, aggregate: Any, out: BinaryIO, skipped: Sequence[tuple[str, str]] = ()) -> None:
    """The result after every event went through: the summary (table/json) or the exposition (prom).

    `skipped`: (path, why) of the files a folder walk or glob passed over; the summary names them
    (json: `skipped`, every one, by path; table: a line each, the first few).
    """
    if fmt in ("table", "json"):
        data = aggregate.to_dict()
        data["skipped"] = [{"path": path, "why": why} for path, why in sorted(skipped)]
        if fmt == "json":
            out.write(orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE))
        else:
            from ..sinks.render import WIDTH, render_table

            tty = sys.stdout.isatty()
            width = shutil.get_terminal_size((WIDTH, 24)).columns if tty else WIDTH
            out.write(render_table(data, width=width, color=tty).encode())
    elif fmt == "prom":
        from prometheus_client import CollectorRegistry

        from ..sinks.metrics import exposition

        registry = CollectorRegistry()
        registry.register(aggregate)
        out.write(exposition(registry))
