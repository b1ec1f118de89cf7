"""The event: one pydantic model per kind, the single definition of the contract's keys.

The per-line path builds plain dicts (validation would cost more than parsing);
these models are what `logmetrics schema` prints, what parser definitions are
checked against, and what the tests validate every emitted dict with.
"""

from __future__ import annotations

from functools import cache
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

Level = Literal["debug", "info", "warn", "error"]
LEVELS: tuple[str, ...] = ("debug", "info", "warn", "error")
TS_PATTERN = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$"


class _EventBase(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    ts: str = Field(pattern=TS_PATTERN, description="RFC 3339 UTC with ms: the line's own time, else read time")
    ts_source: Literal["previous", "next", "file", "read"] | None = Field(
        None, description='absent: the line\'s own time (or its envelope\'s). The line carried none and took: '
        '"previous" the time of the line before it in the same file, "next" the time of the first timed line after '
        'it (at a file\'s start), "file" the file\'s modification time (no timed line at all), "read" the time it '
        'was read (lines read live, as they are written)')
    app: str = Field(description="ollama, deepchat, openwebui, nginx, unknown, ...")
    level: Level
    msg: str = Field(description="the message text; for an access line `POST /api/chat 500`")
    container: str | None = None
    stream: Literal["stdout", "stderr"] | None = None
    model: str | None = None
    host: str | None = None
    error: str | None = None
    line: str = Field(description="the application's own line, envelope and ANSI codes removed")
    file: str = Field(description="the file it came from")
    repeat: int | None = Field(None, ge=1, description="the n-th repeat of an identical line at the same time in "
                               "the same file (absent on the first): stores that keep one of identical entries, "
                               "such as Loki, keep every one")


class RequestEvent(_EventBase):
    kind: Literal["request"]
    status: int = Field(ge=0, le=999)
    method: str | None = None
    path: str | None = Field(None, description="query string removed")
    duration_ms: float | None = Field(None, ge=0)
    client: str | None = None


class TimeoutEvent(_EventBase):
    kind: Literal["timeout"]
    operation: str = Field(description="short, low-cardinality: runner_start, stream, upstream, request, ...")
    timeout_ms: float | None = Field(None, ge=0)


class ErrorEvent(_EventBase):
    kind: Literal["error"]
    error: str  # type: ignore[assignment]  # required for this kind


class ModelLoadEvent(_EventBase):
    kind: Literal["model_load"]
    duration_ms: float = Field(ge=0)


class InferenceEvent(_EventBase):
    kind: Literal["inference"]
    prompt_tokens: int | None = Field(None, ge=0)
    prompt_ms: float | None = Field(None, ge=0)
    completion_tokens: int | None = Field(None, ge=0)
    eval_ms: float | None = Field(None, ge=0)
    tokens_per_s: float | None = Field(None, ge=0)


class LogEvent(_EventBase):
    kind: Literal["log"]


MODELS: dict[str, type[_EventBase]] = {
    "request": RequestEvent,
    "timeout": TimeoutEvent,
    "error": ErrorEvent,
    "model_load": ModelLoadEvent,
    "inference": InferenceEvent,
    "log": LogEvent,
}
KINDS: tuple[str, ...] = tuple(MODELS)

Event = Annotated[
    RequestEvent | TimeoutEvent | ErrorEvent | ModelLoadEvent | InferenceEvent | LogEvent,
    Field(discriminator="kind"),
]

COMMON_KEYS: frozenset[str] = frozenset(_EventBase.model_fields) | {"kind"}
KIND_KEYS: dict[str, frozenset[str]] = {k: frozenset(m.model_fields) - COMMON_KEYS for k, m in MODELS.items()}
ALL_KEYS: frozenset[str] = COMMON_KEYS.union(*KIND_KEYS.values())
INT_KEYS: frozenset[str] = frozenset(
    name for m in MODELS.values() for name, f in m.model_fields.items() if f.annotation in (int, int | None)
)
FLOAT_KEYS: frozenset[str] = frozenset(
    name for m in MODELS.values() for name, f in m.model_fields.items() if f.annotation in (float, float | None)
)


@cache
def _adapter() -> TypeAdapter[Any]:
    return TypeAdapter(Event)


def validate_event(data: dict[str, Any]) -> _EventBase:
    """Validate one emitted dict against its kind's model (tests and `check`, not the hot path)."""
    result: _EventBase = _adapter().validate_python(data)
    return result


def event_json_schema() -> dict[str, Any]:
    """The JSON Schema of an event line, as `logmetrics schema` prints it."""
    schema: dict[str, Any] = _adapter().json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "logmetrics event"
    return schema


def token_phases(e: dict[str, Any]) -> list[tuple[str, int | None, float | None]]:
    """(phase, tokens to count, rate) of an inference event, for the summary and the metrics alike.

    A phase's rate is its tokens over its time when the event has both (a llama.cpp timing block
    carries the prompt's and the completion's together, and its `tokens_per_s` is the completion's);
    otherwise `tokens_per_s`, in the prompt phase when the event only has prompt keys. Tokens are
    counted unless the event is a progress report (a count so far with a rate, no phase time), so a
    request reported while it runs is not counted once per report.
    """
    pt, pms = e.get("prompt_tokens"), e.get("prompt_ms")
    ct, ems = e.get("completion_tokens"), e.get("eval_ms")
    tps = e.get("tokens_per_s")
    out: list[tuple[str, int | None, float | None]] = []
    if pt is not None or pms is not None:
        rate = pt * 1000.0 / pms if pt and pms else (tps if ct is None and ems is None else None)
        out.append(("prompt", pt if pms is not None or tps is None else None, rate))
    if ct is not None or ems is not None or (tps is not None and not out):
        rate = ct * 1000.0 / ems if ct and ems else tps
        out.append(("completion", ct if ems is not None or tps is None else None, rate))
    return out
