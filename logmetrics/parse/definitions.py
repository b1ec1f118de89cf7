"""Parser definitions: the data in `parsers/*.toml`, loaded and validated.

A definition is data so that users can add an app without writing Python, and so
that every pattern carries sample lines with the events they must give (`check`
and the test suite run them all). Everything that can be wrong with a definition
is reported here, once, naming the file, the pattern and the key.
"""

from __future__ import annotations

import re
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ..core.errors import UserError
from ..core.events import ALL_KEYS, COMMON_KEYS, KIND_KEYS, KINDS, LEVELS
from .timestamps import TIMESTAMP_FORMATS

__all__ = [
    "ClassifyRule",
    "Definition",
    "DefinitionError",
    "Pattern",
    "Sample",
    "builtin_dir",
    "is_builtin",
    "load_definitions",
    "load_file",
]

DurationUnit = Literal["go", "ms", "s", "us"]
# Keys a pattern may never capture: the engine owns them.
_ENGINE_KEYS = frozenset({"app", "kind", "line", "file", "ts_source"})
_DURATION_KEYS = frozenset(k for k in ALL_KEYS if k.endswith("_ms"))


class DefinitionError(UserError):
    """A parser definition that cannot be used; the message names file, pattern and key."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _as_list(v: Any) -> Any:
    return [v] if isinstance(v, str) else v


class Pattern(_Strict):
    """One line shape: a literal prefilter, a regex with named groups, and what they mean."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    kind: str
    regex: str | None = None
    contains: list[str] = Field(default_factory=list, description="literals that must all occur (cheap prefilter)")
    ts_format: str = "auto"
    units: dict[str, DurationUnit] = Field(default_factory=dict, description="unit of each *_ms group")
    level: str | None = Field(None, description="level when the line states none")
    set: dict[str, str | int | float] = Field(default_factory=dict, description="constant fields, e.g. operation")
    logfmt: str | None = Field(None, description="group (or `line`) whose key=value pairs fill unset fields")
    json_body: str | None = Field(None, alias="json", description="group (or `line`) holding a JSON object")
    block: Literal["timing"] | None = Field(None, description="`timing`: a line of a timing block (llama.cpp "
                                            "prints one over several lines): the block is one event")

    _contains = field_validator("contains", mode="before")(_as_list)

    @model_validator(mode="after")
    def _check(self) -> Pattern:
        where = f"pattern {self.name!r}"
        if self.kind not in KINDS:
            raise ValueError(f"{where}: key 'kind': {self.kind!r} is not one of {', '.join(KINDS)}")
        if self.regex is None and self.logfmt != "line" and self.json_body != "line" and not self.contains:
            raise ValueError(f"{where}: needs 'regex', 'contains', or logfmt/json = \"line\"")
        groups: set[str] = set()
        if self.regex is not None:
            try:
                rx = re.compile(self.regex)
            except re.error as e:
                raise ValueError(f"{where}: key 'regex': bad regular expression: {e}") from None
            groups = set(rx.groupindex)
        allowed = (COMMON_KEYS | KIND_KEYS[self.kind]) - _ENGINE_KEYS
        for g in groups - {self.logfmt, self.json_body}:
            if g not in allowed:
                raise ValueError(
                    f"{where}: key 'regex': group {g!r} is not a {self.kind} event key "
                    f"(allowed: {', '.join(sorted(allowed))})"
                )
        for key in (self.logfmt, self.json_body):
            if key not in (None, "line") and key not in groups:
                raise ValueError(f"{where}: key 'logfmt'/'json': {key!r} is not a group of the regex")
        for k in self.units:
            if k not in _DURATION_KEYS:
                raise ValueError(f"{where}: key 'units': {k!r} is not a duration key")
        for k in self.set:
            if k not in allowed:
                raise ValueError(f"{where}: key 'set': {k!r} is not a {self.kind} event key")
        if self.ts_format not in TIMESTAMP_FORMATS and "%" not in self.ts_format:
            raise ValueError(f"{where}: key 'ts_format': {self.ts_format!r} is not one of {TIMESTAMP_FORMATS}"
                             " or a strptime pattern")
        if self.level is not None and self.level not in LEVELS:
            raise ValueError(f"{where}: key 'level': {self.level!r} is not one of {', '.join(LEVELS)}")
        if self.kind == "timeout" and "operation" not in groups and "operation" not in self.set:
            raise ValueError(f"{where}: a timeout pattern needs 'set.operation' or an operation group")
        return self


class ClassifyRule(_Strict):
    """Re-kind a `log`/`error` event by a phrase in its line (timeouts are worded the same in every app)."""

    contains: str
    kind: Literal["timeout", "error"]
    operation: str | None = None
    level: str | None = None

    @model_validator(mode="after")
    def _check(self) -> ClassifyRule:
        if self.kind == "timeout" and not self.operation:
            raise ValueError(f"classify {self.contains!r}: key 'operation': a timeout rule needs one")
        if self.level is not None and self.level not in LEVELS:
            raise ValueError(f"classify {self.contains!r}: key 'level': {self.level!r} is not a level")
        return self


class Sample(_Strict):
    """A line and the event keys it must produce (a subset of the event)."""

    line: str
    expect: dict[str, Any]

    @model_validator(mode="after")
    def _check(self) -> Sample:
        unknown = set(self.expect) - ALL_KEYS
        if unknown:
            raise ValueError(f"sample {self.line[:40]!r}: key 'expect': unknown event keys {sorted(unknown)}")
        return self


class Definition(_Strict):
    """Everything logmetrics knows about one app's log lines."""

    app: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    description: str = ""
    fallback: bool = Field(False, description="generic shapes: tried after every app, never make a stream sticky")
    embedded: bool = Field(False, description="output other apps pass through (llama.cpp inside Ollama): "
                           "its lines take the stream's app, this one only where the stream has none")
    hints: list[str] = Field(default_factory=list, description="container, program and file names that point "
                             "at this app besides its own (`llama-server`)")
    patterns: list[Pattern] = Field(default_factory=list, alias="pattern")
    samples: list[Sample] = Field(default_factory=list, alias="sample")
    classify: list[ClassifyRule] = Field(default_factory=list)
    source: str = ""

    @model_validator(mode="after")
    def _unique(self) -> Definition:
        seen: set[str] = set()
        for p in self.patterns:
            if p.name in seen:
                raise ValueError(f"pattern {p.name!r}: key 'name': used twice")
            seen.add(p.name)
        return self


def _first_error(e: ValidationError) -> str:
    err = e.errors()[0]
    loc = ".".join(str(x) for x in err["loc"] if not isinstance(x, int))
    msg = str(err["msg"]).removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        return f"unknown key {loc!r}"
    return f"key {loc!r}: {msg}" if loc and "key '" not in msg else msg


def load_file(path: Path) -> Definition:
    """Load and validate one definition file."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise DefinitionError(f"{path}: cannot read: {e.strerror}") from None
    except UnicodeDecodeError:
        raise DefinitionError(f"{path}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as e:
        raise DefinitionError(f"{path}: not valid TOML: {e}") from None
    try:
        return Definition.model_validate({**data, "source": str(path)})
    except ValidationError as e:
        raise DefinitionError(f"{path}: {_first_error(e)}") from None


def builtin_dir() -> Path:
    """Where the built-in definitions live: inside the installed package, or the repo's `parsers/`."""
    return Path(str(resources.files("logmetrics.parsers")))


def is_builtin(d: Definition) -> bool:
    """Shipped with logmetrics (linear-time by test), not a user's file."""
    return bool(d.source) and Path(d.source).parent.resolve() == builtin_dir().resolve()


def load_definitions(extra_dirs: list[Path] | None = None, *, builtin: bool = True) -> list[Definition]:
    """Built-in definitions, then users' (a user file for an existing app replaces the built-in one)."""
    by_app: dict[str, Definition] = {}
    dirs = ([builtin_dir()] if builtin else []) + list(extra_dirs or [])
    for d in dirs:
        if not d.is_dir():
            raise DefinitionError(f"{d}: parser directory does not exist")
        for f in sorted(d.glob("*.toml")):
            definition = load_file(f)
            by_app[definition.app] = definition
    return list(by_app.values())
