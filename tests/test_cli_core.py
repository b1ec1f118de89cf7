"""The commands of the core: parse, schema, check, replay --format events; errors as one line."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from logmetrics.core.events import KIND_KEYS, validate_event
from tests.conftest import run_cli

GIN = b'[GIN] 2026/11/03 - 10:00:00 | 500 |       29m59s |      172.18.0.5 | POST     "/api/chat"'


def test_parse_stdin_to_events_in_order() -> None:
    lines = [GIN, b"second line", b"time=2026-11-03T10:00:01.000Z level=WARN source=a.go:1 msg=\"third\""]
    proc = run_cli("parse", stdin=b"\n".join(lines) + b"\n")
    assert proc.returncode == 0, proc.stderr
    events = [json.loads(x) for x in proc.stdout.splitlines()]
    assert [e["msg"] for e in events] == ["POST /api/chat 500", "second line", "third"]
    assert events[0]["duration_ms"] == 1_799_000.0 and events[0]["file"] == "-"
    for e in events:
        validate_event(e)


def test_parse_can_force_an_app_and_colour() -> None:
    proc = run_cli("parse", "--app", "nginx", stdin=GIN + b"\n")
    assert json.loads(proc.stdout)["kind"] == "log"  # forced: the ollama parser is not tried
    proc = run_cli("parse", "--color", stdin=GIN + b"\n")
    assert b"\x1b[" in proc.stdout
    proc = run_cli("parse", "--app", "nosuch", stdin=b"")
    assert proc.returncode == 2 and b"--app 'nosuch': no parser definition" in proc.stderr


def test_schema_lists_the_contract_keys() -> None:
    proc = run_cli("schema")
    schema = json.loads(proc.stdout)
    defs = schema["$defs"]
    request = defs["RequestEvent"]["properties"]
    for key in ("ts", "app", "kind", "level", "msg", "line", "file", "status", "method", "path", "duration_ms",
                "client", "container", "stream", "model", "host", "error"):
        assert key in request
    assert set(defs["InferenceEvent"]["properties"]) >= KIND_KEYS["inference"]
    assert defs["TimeoutEvent"]["required"] == ["ts", "app", "level", "msg", "line", "file", "kind", "operation"]


def test_check_passes_on_the_builtin_definitions() -> None:
    proc = run_cli("check")
    assert proc.returncode == 0 and b"samples ok" in proc.stdout


def test_replay_events_reads_folders_recursively_and_gz(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "server.log").write_bytes(GIN + b"\nno newline at end")
    with gzip.open(tmp_path / "a" / "server.log.1.gz", "wb") as f:
        f.write(GIN.replace(b"500", b"200") + b"\n")
    (tmp_path / "notes.md").write_text("# not a log\n")
    proc = run_cli("replay", str(tmp_path), "--format", "events", "--no-progress")
    assert proc.returncode == 0, proc.stderr
    events = [json.loads(x) for x in proc.stdout.splitlines()]
    assert [(Path(e["file"]).name, e.get("status")) for e in events] == [
        ("server.log", 500), ("server.log", None), ("server.log.1.gz", 200)]


def test_replay_emit_and_filters(tmp_path: Path) -> None:
    log = tmp_path / "x.log"
    log.write_bytes(GIN + b"\n" + GIN.replace(b"10:00:00", b"11:00:00") + b"\n" + b"unrelated\n")
    emit = tmp_path / "out.jsonl"
    proc = run_cli("replay", str(log), "--format", "events", "--emit", str(emit), "--since", "2026-11-03T10:30:00Z",
                   "--until", "2026-11-03T12:00", "--app", "ollama", "--no-progress")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == emit.read_bytes()
    events = [json.loads(x) for x in proc.stdout.splitlines()]
    # The time-less last line inherits 11:00 from the line before it, so it passes the filter too.
    assert [(e["ts"], e.get("ts_source")) for e in events] == [
        ("2026-11-03T11:00:00.000Z", None), ("2026-11-03T11:00:00.000Z", "previous")]


@pytest.mark.parametrize(("args", "message"), [
    (["replay", "/no/such/path", "--format", "events"], "/no/such/path: no such file or folder"),
    (["replay", "samples", "--format", "xml"], "'xml' is not one of"),
    (["replay", "samples", "--bogus"], "No such option: --bogus"),
    (["replay", "samples", "--since", "yesterday", "--format", "events"], "--since 'yesterday': not a timestamp"),
    (["run", "--listen", "nowhere"], "key 'listen': 'nowhere' is not HOST:PORT"),
])
def test_bad_input_is_one_line_and_exit_2(args: list[str], message: str, tmp_path: Path) -> None:
    (tmp_path / "samples").mkdir()
    (tmp_path / "samples" / "a.log").write_text("x\n")
    proc = run_cli(*args, cwd=tmp_path)
    err = proc.stderr.decode()
    assert proc.returncode == 2, err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err, err


def test_empty_folder_is_an_error(tmp_path: Path) -> None:
    proc = run_cli("replay", str(tmp_path), "--format", "events")
    assert proc.returncode == 2 and b"no log files in this folder" in proc.stderr


def test_help_imports_no_pipeline() -> None:
    """`--help` must start fast (issue: ≤ 0.3 s): it may not import pydantic or the engine."""
    import subprocess
    import sys

    code = ("import sys\nfrom logmetrics.cli import main\nsys.argv = ['logmetrics', '--help']\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in ('pydantic', 'logmetrics.parsing', 'logmetrics.config') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "Usage" in out and out.strip().endswith("[]")
