"""A CLI that answers like a good Unix tool (issue 16): help, version, hints, metavars, bad values as one
line and exit 2, standard input, what `run` cannot find yet, what a folder walk skips, `check` failures."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import time
from importlib.metadata import version
from pathlib import Path

import pytest

from logmetrics.sources.files import BINARY_JOURNAL, NOT_A_LOG_NAME, discover
from tests.conftest import LOGMETRICS, ROOT, run_cli

NGINX = ROOT / "samples" / "nginx" / "access.log"


def _one_line_error(proc: subprocess.CompletedProcess[bytes], *needles: str) -> str:
    err = proc.stderr.decode()
    assert proc.returncode == 2, (proc.returncode, err)
    assert err.startswith("logmetrics: error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    for needle in needles:
        assert needle in err, err
    return err


# -- help, version, hints ---------------------------------------------------------------------------


def test_no_arguments_prints_the_help() -> None:
    """As typer's no_args_is_help does (click: the help on stderr, exit 2), not silence and exit 0."""
    proc = run_cli()
    err = proc.stderr.decode()
    assert proc.returncode == 2 and proc.stdout == b""
    assert err.startswith("Usage: logmetrics [OPTIONS] COMMAND") and "Commands:" in err
    for command in ("replay", "run", "parse", "check", "schema", "demo"):
        assert re.search(rf"^  {command}\s", err, re.M), command


def test_version_comes_from_the_package_metadata() -> None:
    proc = run_cli("--version")
    assert proc.returncode == 0 and proc.stdout.decode() == f"logmetrics {version('logmetrics')}\n"


@pytest.mark.parametrize(("args", "hint"), [
    (["bogus"], "Try 'logmetrics --help'."),
    (["--bogus"], "Try 'logmetrics --help'."),
    (["replay", "samples", "--bogus"], "Try 'logmetrics replay --help'."),
    (["replay"], "Try 'logmetrics replay --help'."),
])
def test_the_hint_names_the_command_once(args: list[str], hint: str) -> None:
    err = _one_line_error(run_cli(*args, cwd=ROOT), hint)
    assert "logmetrics logmetrics" not in err


def _commands() -> list[str]:
    from typer.main import get_command

    from logmetrics.cli import app

    group = get_command(app)
    return sorted(group.commands)  # type: ignore[attr-defined]


@pytest.mark.parametrize("command", _commands())
def test_help_shows_no_python_type_names(command: str) -> None:
    proc = run_cli(command, "--help")
    out = proc.stdout.decode()
    assert proc.returncode == 0 and out.startswith(f"Usage: logmetrics {command}"), proc.stderr
    python_types = re.findall(r"<(?:list\[|str>|int>|float>|bool>|path>|Path>)|\{\w+\}|\blist\[", out)
    assert not python_types, f"`logmetrics {command} --help` shows {python_types}:\n{out}"
    usage = out.splitlines()[0]
    assert re.fullmatch(r"Usage: logmetrics \w+ \[OPTIONS\]( \[?[A-Z_]+(\.\.\.)?\]?(\.\.\.)?)*", usage), usage


def test_every_option_is_also_an_environment_variable() -> None:
    """README: "Every option is also an environment variable" — `--help` names each one."""
    from typer.main import get_command

    from logmetrics.cli import app

    group = get_command(app)
    missing = []
    for name, command in group.commands.items():  # type: ignore[attr-defined]
        for param in command.params:
            if param.param_type_name == "option" and param.name not in ("help",):
                envvar = param.envvar
                if not (isinstance(envvar, str) and envvar.startswith("LOGMETRICS_")):
                    missing.append(f"{name} --{param.name}")
    assert not missing, missing


@pytest.mark.parametrize("rate", ["0", "-1", "nan"])
def test_demo_rate_must_be_positive(rate: str, tmp_path: Path) -> None:
    _one_line_error(run_cli("demo", str(tmp_path), "--rate", rate), "--rate")


# -- replay: bad values, standard input ------------------------------------------------------------


def test_replay_app_must_be_a_known_app() -> None:
    err = _one_line_error(run_cli("replay", "samples", "--app", "nosuchapp", cwd=ROOT), "--app 'nosuchapp'")
    known = err.split("known: ", 1)[1]
    for app in ("deepchat", "nginx", "ollama", "openwebui", "unknown"):
        assert app in known, err
    proc = run_cli("replay", "samples/nginx", "--app", "unknown", "-f", "json", cwd=ROOT)  # known, just absent
    assert proc.returncode == 0 and json.loads(proc.stdout)["apps"] == []


@pytest.mark.parametrize(("args", "env"), [
    (["--jobs", "0"], {}), (["--jobs", "-1"], {}), (["-j", "0"], {}), ([], {"LOGMETRICS_JOBS": "0"}),
])
def test_replay_jobs_below_one_is_refused(args: list[str], env: dict[str, str]) -> None:
    _one_line_error(run_cli("replay", "samples/nginx", *args, env=env, cwd=ROOT), "--jobs")


@pytest.mark.parametrize(("since", "until"), [
    ("2026-11-03T11:00:00Z", "2026-11-03T10:00:00Z"),  # after
    ("2026-11-03T10:00", "2026-11-03T10:00:00Z"),  # the same instant, written two ways
    ("2026-11-04", "2026-11-03T23:59"),
])
def test_replay_since_must_be_before_until(since: str, until: str) -> None:
    _one_line_error(run_cli("replay", "samples/nginx", "--since", since, "--until", until, cwd=ROOT),
                    "is not before --until")


def test_replay_dash_reads_standard_input() -> None:
    data = NGINX.read_bytes()
    from_stdin = run_cli("replay", "-", "-f", "events", stdin=data)
    assert from_stdin.returncode == 0 and from_stdin.stderr == b"", from_stdin.stderr
    events = [json.loads(x) for x in from_stdin.stdout.splitlines()]
    assert len(events) == data.count(b"\n") and {e["file"] for e in events} == {"-"}
    from_file = run_cli("replay", str(NGINX), "-f", "events")
    strip = [{k: v for k, v in json.loads(x).items() if k != "file"} for x in from_file.stdout.splitlines()]
    assert [{k: v for k, v in e.items() if k != "file"} for e in events] == strip
    # gzip on standard input is recognised by its bytes; `-` mixes with paths; `-j` does not apply to it
    import gzip

    mixed = run_cli("replay", "-", "samples/deepchat", "-f", "json", "-j", "2", stdin=gzip.compress(data), cwd=ROOT)
    apps = {a["app"]: a for a in json.loads(mixed.stdout)["apps"]}
    assert mixed.returncode == 0 and set(apps) == {"deepchat", "nginx"} and "-" in apps["nginx"]["files"]
    _one_line_error(run_cli("replay", "-", "-", stdin=b""), "standard input named more than once")


# -- run: what is not there yet, positions, skipped names ------------------------------------------


def test_run_names_a_path_that_matches_nothing_once_and_keeps_waiting(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "readme.txt").write_text("not a log\n")
    nothing = str(tmp_path / "nothing" / "*.log")
    stderr = open(tmp_path / "stderr.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen([LOGMETRICS, "run", nothing, str(logs), "--output", str(tmp_path / "events.jsonl"),
                             "--listen", "", "--start-at", "beginning"], stderr=stderr, stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 15
        while "nothing matches yet" not in (tmp_path / "stderr.log").read_text() and time.monotonic() < deadline:
            time.sleep(0.05)
        for i in range(3):  # discovery runs again (every second, and on changes in the folder)
            (logs / f"notes-{i}.txt").write_text("still not a log\n")
            time.sleep(0.8)
        (tmp_path / "nothing").mkdir()
        (tmp_path / "nothing" / "late.log").write_text("a line written later\n")  # keeps waiting: it is read
        while "a line written later" not in _read(tmp_path / "events.jsonl") and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)
        stderr.close()
    assert proc.returncode == 0
    logs_out = [json.loads(x) for x in (tmp_path / "stderr.log").read_text().splitlines()]
    unmatched = [x for x in logs_out if x["msg"] == "nothing matches yet; watching for it"]
    assert sorted(x["path"] for x in unmatched) == sorted([nothing, str(logs)])  # each once
    assert all(x["level"] == "WARNING" for x in unmatched)
    skipped = [x for x in logs_out if x["msg"] == "skipping files not named like logs"]
    assert len(skipped) == 1 and skipped[0]["paths"] == [str(logs / "readme.txt")] and skipped[0]["count"] == 1
    assert "a line written later" in _read(tmp_path / "events.jsonl")


def _read(path: Path) -> str:
    return path.read_text() if path.exists() else ""


@pytest.mark.parametrize("how", ["flag", "env"])
def test_run_refuses_a_positions_file_in_a_missing_folder(tmp_path: Path, how: str) -> None:
    positions = str(tmp_path / "nowhere" / "positions.json")
    args = ["--positions", positions] if how == "flag" else []
    env = {"LOGMETRICS_POSITIONS": positions} if how == "env" else {}
    proc = run_cli("run", str(tmp_path), "--output", str(tmp_path / "events.jsonl"), "--listen", "", *args, env=env)
    _one_line_error(proc, f"--positions {positions}: folder {tmp_path / 'nowhere'} does not exist")
    proc = run_cli("run", str(tmp_path), "--output", str(tmp_path / "nowhere" / "events.jsonl"), "--listen", "")
    _one_line_error(proc, "--output", "does not exist")


# -- check ----------------------------------------------------------------------------------------------


def test_check_lists_each_failure_on_a_line_and_exits_2(tmp_path: Path) -> None:
    (tmp_path / "defs").mkdir()
    (tmp_path / "defs" / "myproxy.toml").write_text('''\
app = "myproxy"
[[pattern]]
name = "access"
kind = "request"
regex = \'\'\'^(?P<method>[A-Z]+) (?P<path>\\S+) (?P<status>\\d{3})$\'\'\'
[[sample]]
line = "GET /a 200"
expect = { kind = "request", status = 201 }
[[sample]]
line = "GET /b 500"
expect = { kind = "request", status = 501 }
[[sample]]
line = "GET /c 404"
expect = { kind = "request", status = 404 }
''')
    proc = run_cli("check", "--parsers", str(tmp_path / "defs"))
    _one_line_error(proc, "check: 2 problems (listed above)")
    out = proc.stdout.decode().splitlines()
    failures = [x for x in out if x.startswith(str(tmp_path / "defs" / "myproxy.toml"))]
    assert len(failures) == 2, out
    assert "'GET /a 200'" in failures[0] and "expected 201" in failures[0]
    assert "'GET /b 500'" in failures[1] and "expected 501" in failures[1]
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "x.toml").write_text('app = "x"\n[[pattern]]\nname = "a"\nkind = "request"\nregex = "(?P<nope>"\n')
    _one_line_error(run_cli("check", "--parsers", str(broken)), str(broken / "x.toml"))


# -- folder discovery ------------------------------------------------------------------------------


TAKEN = ["app.log", "app.log.1", "app.log.2.gz", "app.log-20260101", "app.log-20260101.gz", "app.1", "app.2.gz",
         "syslog", "messages.1.gz", "kern", "nohup.out", "worker.err", "events.jsonl", "access.log.gz",
         "0.log", "0.log.20260101-120000", "0.log.20260101-120000.gz", "x-json.log", "x-json.log.1",
         "ollama.journal.log"]
SKIPPED = ["readme.txt", "README", "README.md", "LICENSE", "Makefile", "notes.md", "config.v2.json",
           "hostconfig.json", "hostname", "hosts", "resolv.conf", "logs.tar.gz", "dump.zip", "script.py",
           ".hidden.log", "system.journal", "user-1000.journal~"]


def test_a_folder_walk_takes_log_names_and_says_what_it_skipped(tmp_path: Path) -> None:
    for name in TAKEN + SKIPPED:
        (tmp_path / name).write_text("x\n")
    found = discover([str(tmp_path)])
    assert sorted(Path(p).name for p in found.files) == sorted(TAKEN)
    why = {Path(p).name: w for p, w in found.skipped}
    assert sorted(why) == sorted(SKIPPED)
    assert why["readme.txt"] == NOT_A_LOG_NAME and why["system.journal"] == BINARY_JOURNAL
    assert discover([str(tmp_path / "readme.txt")]).files == [str(tmp_path / "readme.txt")]  # named: read
    assert str(tmp_path / "readme.txt") in discover([str(tmp_path / "*.txt")]).files  # a glob says what it wants


def test_replay_puts_what_it_skipped_in_the_summary_not_on_stderr(tmp_path: Path) -> None:
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "access.log").write_bytes(NGINX.read_bytes())
    (tmp_path / "logs" / "readme.txt").write_text("how these logs were collected\n")
    table = run_cli("replay", "logs", cwd=tmp_path)
    assert table.returncode == 0 and table.stderr == b""
    lines = table.stdout.decode().splitlines()
    assert "skipped  logs/readme.txt (not a log file name)" in lines
    assert lines.index("skipped  logs/readme.txt (not a log file name)") < lines.index(next(
        x for x in lines if x.startswith(" nginx ")))  # before the per-app sections
    data = json.loads(run_cli("replay", "logs", "-f", "json", cwd=tmp_path).stdout)
    assert data["skipped"] == [{"path": "logs/readme.txt", "why": "not a log file name"}]
    for fmt in ("prom", "events"):
        proc = run_cli("replay", "logs", "-f", fmt, cwd=tmp_path)
        assert proc.returncode == 0 and proc.stderr == b"" and b"readme.txt" not in proc.stdout
    (tmp_path / "many").mkdir()
    for i in range(13):
        (tmp_path / "many" / f"note-{i:02}.txt").write_text("x\n")
    (tmp_path / "many" / "app.log").write_text("a line\n")
    lines = run_cli("replay", "many", cwd=tmp_path).stdout.decode().splitlines()
    assert sum(x.startswith("skipped  many/note-") for x in lines) == 10
    assert "skipped  and 3 more (--format json lists them)" in lines
