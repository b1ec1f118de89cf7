"""Settings: defaults < `--config FILE` (TOML) < `LOGMETRICS_*` environment < command-line flags.

Typer reads flags and their environment variables; every other key is read here
from `LOGMETRICS_<KEY>` (`LOGMETRICS_LABEL_LIMIT=50`), then the config file, then
the defaults below. In a variable, numbers and words are written as in a flag,
lists are separated by commas or spaces (`paths` by spaces, `parsers` by `:`, as
their flags' variables are) or written as a TOML array, and tables as a TOML inline
table (`LOGMETRICS_BUCKETS='{ logmetrics_tokens_per_second = [1, 10, 100] }'`).
Unknown keys are errors that name the key, and a bad value names its variable:
a misspelt setting silently ignored is a setting that does not work.
"""

from __future__ import annotations

import itertools
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, get_origin

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .core.errors import UserError
from .sinks.buckets import DEFAULT_BUCKETS

__all__ = ["DEFAULT_BUCKETS", "ENV_PREFIX", "ConfigError", "Settings", "env_var", "load_settings"]

ENV_PREFIX = "LOGMETRICS_"


class ConfigError(UserError):
    """A setting that cannot be used; the message names the file and key."""


class Settings(BaseModel):
    """Everything `run` and `replay` can be told; every field is also a flag and a LOGMETRICS_ variable."""

    model_config = ConfigDict(extra="forbid")

    paths: list[str] = Field(default_factory=list, description="files, folders and globs to read")
    output: str = Field("-", description="events JSON lines file, or - for stdout")
    output_max_bytes: int = Field(100 * 1024 * 1024, ge=0, description="rotate the output at this size (0: never)")
    output_backups: int = Field(5, ge=0, description="rotated output files kept")
    positions: str | None = Field(None, description="read positions file (kept across restarts)")
    listen: str | None = Field("127.0.0.1:9464", description="HOST:PORT for /metrics and /healthz ('' to disable)")
    start_at: Literal["beginning", "end"] = Field("end", description="where to start files with no saved position")
    poll: bool = Field(False, description="poll instead of inotify (NFS, Docker Desktop mounts)")
    follow_symlinks: bool = Field(False, description="follow symlinks met in folders and globs wherever they point "
                                  "(default: only into the paths given)")
    parsers: list[str] = Field(default_factory=list, description="extra parser definition folders")
    max_open_files: int = Field(1000, ge=1, description="files kept open; idle ones beyond are closed and watched")
    max_line_bytes: int = Field(1 << 20, ge=1024, description="longer lines are cut and counted")
    label_limit: int = Field(200, ge=1, description="distinct values kept per metric label; the rest become 'other'")
    series_limit: int = Field(1000, ge=1, description="label sets kept per metric; the rest go to (app, other, ...)")
    buckets: dict[str, list[float]] = Field(default_factory=lambda: {k: list(v) for k, v in DEFAULT_BUCKETS.items()})
    replay_split_bytes: int = Field(16 << 20, ge=1, description="replay splits plain files larger than 2x this")
    replay_parallel_min_bytes: int = Field(4 << 20, ge=0, description="smaller replays run in one process")
    redact: bool = Field(True, description="replace secrets (tokens, API keys, URL passwords) before output")
    redact_rules: dict[str, str] = Field(default_factory=dict, description="extra rules: name = regex (group `secret`)")
    redact_disable: list[str] = Field(default_factory=list, description="built-in rules to switch off, by name")
    drop_prompts: bool = Field(False, description="replace prompt bodies that debug logging writes (prompt=...)")

    @field_validator("redact_rules")
    @classmethod
    def _rules(cls, v: dict[str, str]) -> dict[str, str]:
        from .transforms.redact import UserRuleError, compile_user_rule

        for name, pattern in v.items():
            try:
                compile_user_rule(name, pattern)
            except UserRuleError as e:
                raise ValueError(str(e)) from None
        return v

    @field_validator("redact_disable")
    @classmethod
    def _disable(cls, v: list[str]) -> list[str]:
        from .transforms.redact import BUILTIN_RULES

        known = {r.name for r in BUILTIN_RULES}
        for name in v:
            if name not in known:
                raise ValueError(f"{name!r} is not a built-in rule ({', '.join(sorted(known))})")
        return v

    @field_validator("listen")
    @classmethod
    def _listen(cls, v: str | None) -> str | None:
        if v in (None, ""):
            return None
        _host, sep, port = v.rpartition(":")
        if not sep or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"{v!r} is not HOST:PORT")
        return v

    @field_validator("buckets")
    @classmethod
    def _buckets(cls, v: dict[str, list[float]]) -> dict[str, list[float]]:
        for name, bs in v.items():
            if name not in DEFAULT_BUCKETS:
                raise ValueError(f"{name!r} is not a histogram (one of {', '.join(DEFAULT_BUCKETS)})")
            if not bs or any(b <= a for a, b in itertools.pairwise(bs)):
                raise ValueError(f"{name}: buckets must be increasing and non-empty")
        return {**DEFAULT_BUCKETS, **v}


def env_var(key: str) -> str:
    """The environment variable of a settings key: `label_limit` → `LOGMETRICS_LABEL_LIMIT`."""
    return ENV_PREFIX + key.upper()


# How a list setting's variable is split, like the flag's own variable (click: paths by spaces, folders by ':').
_SPLIT = {"paths": re.compile(r"\s+"), "parsers": re.compile(re.escape(os.pathsep))}
_LIST_SPLIT = re.compile(r"[,\s]+")


def _env_value(key: str, var: str, raw: str) -> Any:
    """A variable's text as the value of `key` (the model validates and converts it after)."""
    origin = get_origin(Settings.model_fields[key].annotation)
    if origin not in (list, dict) or (origin is list and not raw.lstrip().startswith("[")):
        if origin is list:
            return [x for x in _SPLIT.get(key, _LIST_SPLIT).split(raw.strip()) if x]
        return raw
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError as e:
        shape = "a TOML array" if origin is list else "a TOML inline table, e.g. '{ name = ... }'"
        raise ConfigError(f"environment variable {var}={raw!r}: not {shape} ({e})") from None


def _from_env(environ: Mapping[str, str]) -> dict[str, tuple[str, str, Any]]:
    """Every settings key given as `LOGMETRICS_<KEY>`: key → (variable, its text, value)."""
    return {key: (var, environ[var], _env_value(key, var, environ[var]))
            for key in Settings.model_fields if (var := env_var(key)) in environ}


def _explain(e: ValidationError, where: str, env: Mapping[str, tuple[str, str, Any]] | None = None) -> str:
    err = e.errors()[0]
    key = ".".join(str(x) for x in err["loc"])
    msg = str(err["msg"]).removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        return f"{where}: unknown key {key!r}"
    if env and err["loc"] and err["loc"][0] in env:
        var, raw, _value = env[str(err["loc"][0])]
        return f"environment variable {var}={raw!r}: {msg}"
    return f"{where}: key {key!r}: {msg}"


def load_settings(config: str | Path | None = None, overrides: dict[str, Any] | None = None,
                  environ: Mapping[str, str] | None = None) -> Settings:
    """Merge the config file, the `LOGMETRICS_<KEY>` variables (`environ`, default the process's)
    and flags (`overrides`, None meaning 'not given')."""
    data: dict[str, Any] = {}
    where = "settings"
    if config:
        path = Path(config)
        where = str(path)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"{path}: config file does not exist") from None
        except OSError as e:
            raise ConfigError(f"{path}: cannot read: {e.strerror}") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
            raise ConfigError(f"{path}: not valid TOML: {e}") from None
        data = {k.replace("-", "_"): v for k, v in data.items()}
    given = {k: list(v) if isinstance(v, tuple) else v for k, v in (overrides or {}).items()
             if v is not None and v != [] and v != ()}
    env = {k: found for k, found in _from_env(os.environ if environ is None else environ).items() if k not in given}
    data.update({k: value for k, (_var, _raw, value) in env.items()})
    data.update(given)
    try:
        return Settings.model_validate(data)
    except ValidationError as e:
        raise ConfigError(_explain(e, where, env)) from None
