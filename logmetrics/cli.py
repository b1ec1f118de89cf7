"""The command line: option declarations only; each command's work lives in `logmetrics.commands`.

Imports of the pipeline happen inside the commands, so `logmetrics --help` stays fast.
Every failure a user can cause (bad flag, config, parser definition, path) ends
as one line on stderr and exit status 2 — never a traceback.
"""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from typer.core import TyperArgument, TyperGroup, TyperOption

try:  # typer ≥ 0.2x vendors click; older releases depend on it
    from typer._click import exceptions as click_exc  # type: ignore[attr-defined,unused-ignore]
except ImportError:  # pragma: no cover - depends on the installed typer
    from click import exceptions as click_exc  # type: ignore[no-redef,unused-ignore]


class _PlainArgument(TyperArgument):
    """An argument shown as Unix tools show one: `PATH...`, `[PATH]...`, no Python type after it."""

    def _shown(self) -> str:
        return (self.metavar or (self.name or "").upper()) + ("..." if self.nargs != 1 else "")

    def display_type_rich(self, ctx: Any) -> str | None:
        return None

    def _rich_display_name(self) -> str:
        return self._shown()

    def get_usage_pieces(self, ctx: Any) -> list[str]:
        return [self._shown() if self.required else f"[{self._shown()}]"]


_UNIX_TYPE_NAMES = {"int": "INTEGER", "float": "NUMBER", "str": "TEXT", "path": "PATH", "datetime": "TIME"}


class _Group(TyperGroup):
    """No Python type names in `--help`: typer ≥ 0.2x prints `{paths}...`, `<list[str]>`, `<int>`.

    Arguments are shown by their metavar (`PATH...`); an option without a `metavar=` gets its
    type's name as Unix tools write it (`INTEGER`, `TEXT`, `PATH`); choices stay a list of choices.
    """

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        for command in self.commands.values():
            for param in command.params:
                if type(param) is TyperArgument:
                    param.__class__ = _PlainArgument
                elif isinstance(param, TyperOption) and param.metavar is None and not param.is_flag:
                    typed = getattr(param, "display_type_rich", None)  # typer ≥ 0.2x only
                    shown = typed(None) if typed is not None else None
                    if shown and "|" not in shown:  # `<int>`, `<list[Path]>`; a choice shows `<a|b>`
                        kind = shown.strip("<>.").removeprefix("list[").rstrip("]").lower().removesuffix(" range")
                        param.metavar = _UNIX_TYPE_NAMES.get(kind, kind.upper())


app = typer.Typer(
    name="logmetrics",
    cls=_Group,
    help="Typed events, JSON lines and Prometheus metrics from local LLM-serving logs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

ParsersOpt = Annotated[
    list[Path] | None,
    typer.Option("--parsers", help="Extra parser definition folder (repeatable).", envvar="LOGMETRICS_PARSERS",
                 metavar="DIR"),
]
ConfigOpt = Annotated[
    Path | None, typer.Option("--config", help="Settings file (TOML).", envvar="LOGMETRICS_CONFIG",
                               metavar="FILE")
]


class Format(StrEnum):
    table = "table"
    json = "json"
    prom = "prom"
    events = "events"


class StartAt(StrEnum):
    beginning = "beginning"
    end = "end"


@app.command()
def replay(
    paths: Annotated[list[str], typer.Argument(help="Files, folders (recursive) and globs; - is standard input.",
                                                show_default=False, metavar="PATH")],
    fmt: Annotated[Format, typer.Option("--format", "-f", help="table | json | prom | events",
                                        envvar="LOGMETRICS_FORMAT")] = Format.table,
    emit: Annotated[Path | None, typer.Option("--emit", help="Also write the events as JSON lines to FILE.",
                                              envvar="LOGMETRICS_EMIT", metavar="FILE")] = None,
    only_app: Annotated[str | None, typer.Option("--app", help="Only events of this app.",
                                                 envvar="LOGMETRICS_APP", metavar="APP")] = None,
    since: Annotated[str | None, typer.Option("--since", help="Only events at or after this time (RFC 3339).",
                                              envvar="LOGMETRICS_SINCE", metavar="TIME")] = None,
    until: Annotated[str | None, typer.Option("--until", help="Only events before this time (RFC 3339).",
                                              envvar="LOGMETRICS_UNTIL", metavar="TIME")] = None,
    no_progress: Annotated[bool, typer.Option("--no-progress", help="No progress bar.",
                                              envvar="LOGMETRICS_NO_PROGRESS")] = False,
    jobs: Annotated[int | None, typer.Option("--jobs", "-j", help="Worker processes (default: one per core).",
                                             envvar="LOGMETRICS_JOBS", metavar="N", min=1)] = None,
    parsers: ParsersOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Summarise a pile of logs offline: per app lines, kinds, status codes, latency, timeouts, errors."""
    from .commands.replay import replay_command

    replay_command(paths, fmt.value, emit=emit, only_app=only_app, since=since, until=until,
                   progress=not no_progress, jobs=jobs, parsers=parsers or [], config=config)


@app.command()
def run(
    paths: Annotated[list[str] | None, typer.Argument(help="Files, folders and globs to follow.",
                                                      envvar="LOGMETRICS_PATHS", show_default=False,
                                                      metavar="PATH_OR_GLOB")] = None,
    output: Annotated[str | None, typer.Option("--output", "-o", help="Events file (size-rotated), or - for stdout.",
                                               envvar="LOGMETRICS_OUTPUT", metavar="FILE")] = None,
    positions: Annotated[str | None, typer.Option("--positions", help="Read positions file.",
                                                  envvar="LOGMETRICS_POSITIONS", metavar="FILE")] = None,
    listen: Annotated[str | None, typer.Option("--listen", help="For /metrics and /healthz ('' turns it off).",
                                               envvar="LOGMETRICS_LISTEN", metavar="HOST:PORT")] = None,
    start_at: Annotated[StartAt | None, typer.Option("--start-at", help="beginning | end, for files with no position.",
                                                     envvar="LOGMETRICS_START_AT")] = None,
    poll: Annotated[bool | None, typer.Option("--poll/--no-poll", help="Poll instead of inotify.",
                                              envvar="LOGMETRICS_POLL", show_default=False)] = None,
    parsers: ParsersOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Follow log files live: events as JSON lines, /metrics and /healthz, positions kept across restarts."""
    from .commands.run import run_command

    run_command(paths=paths, output=output, positions=positions, listen=listen,
                start_at=start_at.value if start_at else None, poll=poll, parsers=parsers or [], config=config)


@app.command()
def parse(
    force_app: Annotated[str | None, typer.Option("--app", help="Use only this app's parser (plus fallbacks).",
                                                  envvar="LOGMETRICS_APP", metavar="APP")] = None,
    color: Annotated[bool | None, typer.Option("--color/--no-color", help="Highlight (default: on a terminal).",
                                               envvar="LOGMETRICS_COLOR", show_default=False)] = None,
    parsers: ParsersOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Lines on stdin → events on stdout, in order."""
    from .commands.parse import parse_command

    parse_command(force_app=force_app, color=color, parsers=parsers or [], config=config)


@app.command()
def check(
    parsers: ParsersOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Validate the settings and every parser definition, and run every definition's sample lines."""
    from .commands.check import check_command

    check_command(parsers=parsers or [], config=config)


class DetectFormat(StrEnum):
    table = "table"
    json = "json"


@app.command()
def detect(
    paths: Annotated[list[str], typer.Argument(help="Files, folders (recursive) and globs.", show_default=False,
                                                metavar="PATH")],
    fmt: Annotated[DetectFormat, typer.Option("--format", "-f", help="table | json",
                                              envvar="LOGMETRICS_DETECT_FORMAT")] = DetectFormat.table,
    lines: Annotated[int, typer.Option("--lines", "-n", min=1, help="Read at most this many lines per file.",
                                       metavar="N", envvar="LOGMETRICS_DETECT_LINES")] = 10_000,
    parsers: ParsersOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Per file: the app, envelopes and formats recognised, the share of lines recognised, unrecognised examples."""
    from .commands.detect import detect_command

    detect_command(paths, fmt.value, max_lines=lines, parsers=parsers or [], config=config)


@app.command()
def schema() -> None:
    """Print the JSON Schema of an event line."""
    import json

    from .core.events import event_json_schema

    print(json.dumps(event_json_schema(), indent=2))


@app.command()
def demo(
    directory: Annotated[Path, typer.Argument(help="Folder to write live demo logs into.", metavar="DIR")],
    rate: Annotated[float, typer.Option("--rate", help="Lines per second, all files together.",
                                        envvar="LOGMETRICS_DEMO_RATE", metavar="N")] = 5.0,
) -> None:
    """Keep appending realistic lines, timestamps shifted to now (feeds the compose demo)."""
    from .commands.demo import demo_command

    demo_command(directory, rate=rate)


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            print(f"logmetrics {version('logmetrics')}")
        except PackageNotFoundError:  # run from a source tree that was never installed
            print("logmetrics (version unknown: not installed)")
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.", is_eager=True,
                                          callback=_version)] = False,
) -> None:
    """Typed events, JSON lines and Prometheus metrics from local LLM-serving logs."""


def fail(message: str, code: int = 2) -> NoReturn:
    """The one-line error every user mistake ends in."""
    print(f"logmetrics: error: {message}", file=sys.stderr)
    raise SystemExit(code)


def main() -> None:
    """Console entry point: turn every user error into one line and a non-zero exit."""
    from .core.errors import UserError

    try:
        app(standalone_mode=False)
    except click_exc.UsageError as e:
        if type(e).__name__ == "NoArgsIsHelpError":  # `logmetrics` alone: the help, as click shows it
            print(e.format_message(), file=sys.stderr)
            raise SystemExit(2) from None
        # `command_path` is "logmetrics replay" for a command and "logmetrics" for the program itself.
        where = e.ctx.command_path if e.ctx is not None and e.ctx.command_path else "logmetrics"
        fail(f"{e.format_message().replace(chr(10), ' ').rstrip('.')}. Try '{where} --help'.")
    except typer.Abort:
        fail("aborted", 130)
    except typer.Exit as e:
        raise SystemExit(e.exit_code) from None
    except UserError as e:
        fail(str(e))
    except BrokenPipeError:
        sys.stderr.close()
        raise SystemExit(0) from None
    except KeyboardInterrupt:
        raise SystemExit(130) from None
    except OSError as e:
        where = f"{e.filename}: " if e.filename else ""
        fail(f"{where}{e.strerror or e}")


if __name__ == "__main__":
    main()
