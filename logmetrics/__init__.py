"""logmetrics: typed events, JSON lines and Prometheus metrics from the logs of an LLM box.

A line flows through stages, one package each: ``sources`` (files, the live tailer,
the one line framer) → ``parse`` (envelopes peeled, definitions compiled, the engine)
→ ``transforms`` (redaction, filters) → ``sinks`` (JSON lines, metrics, the summary);
``pipeline.Pipeline`` is the one chain after parsing that every runner uses, and
``replay`` runs files through it offline. The command line is a thin layer over this.

From Python::

    >>> from logmetrics import parse_line
    >>> ev = parse_line('[GIN] 2024/12/11 - 09:58:58 | 500 |       29m59s |      172.18.0.5 | POST     "/api/chat"')
    >>> ev["kind"], ev["status"], ev["duration_ms"], ev["ts"]
    ('request', 500, 1799000.0, '2024-12-11T09:58:58.000Z')
    >>> parse_line('level=ERROR msg="upstream failed" api_key=sk-proj-0123456789abcdefXYZ')["line"]
    'level=ERROR msg="upstream failed" api_key=[REDACTED]'
    >>> from logmetrics import RequestEvent, validate_event
    >>> isinstance(validate_event(ev), RequestEvent)
    True

``replay("samples/")`` yields every event of a folder of logs, in order; ``detect("samples/")`` says,
per file, what was recognised in it (app, envelopes, formats, the lines nothing explained).
Names are imported on first use, so ``logmetrics --help`` pays for none of them.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "parse_line": "api", "parse_lines": "api", "replay": "api", "detect": "api", "Detection": "offline.detect",
    "Engine": "parse.engine", "Stream": "parse.engine",
    "Pipeline": "pipeline", "Sink": "pipeline",
    "Settings": "config", "load_settings": "config",
    "Redactor": "transforms.redact", "EventFilter": "transforms.filter",
    "Stats": "core.stats", "UserError": "core.errors",
    "RequestEvent": "core.events", "TimeoutEvent": "core.events", "ErrorEvent": "core.events",
    "ModelLoadEvent": "core.events", "InferenceEvent": "core.events", "LogEvent": "core.events",
    "validate_event": "core.events", "event_json_schema": "core.events",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'logmetrics' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
