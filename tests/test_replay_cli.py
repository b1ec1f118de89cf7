"""`logmetrics replay` end to end: golden output per format, promtool, errors, .gz, filters, progress.

Regenerate the golden files with `UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/test_replay_cli.py`
and review the diff: it is the user-visible output.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import threading
from pathlib import Path

import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import LOGMETRICS, ROOT, run_cli

GOLDEN = ROOT / "tests" / "golden"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"
# A subset for the events golden (the whole samples/ as events would be 1.6 MB): access log,
# error log, and a rotated .gz with lines that carry no time of their own.
EVENT_INPUTS = ("samples/nginx", "samples/ollama/server.log.1.gz")
READ_TS = "<read time>"


def _replay(*args: str) -> subprocess.CompletedProcess[bytes]:
    proc = run_cli("replay", *args, "--no-progress", cwd=ROOT)
    assert proc.returncode == 0, proc.stderr.decode()
    assert proc.stderr == b""
    return proc


def _check_golden(name: str, actual: bytes) -> None:
    path = GOLDEN / name
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(actual)
    assert path.exists(), f"{path} missing: run with UPDATE_GOLDEN=1"
    assert actual.decode() == path.read_text(encoding="utf-8"), f"{name} differs from the golden file"


def _stable_events(raw: bytes) -> bytes:
    """Events with the read time (the only wall-clock value) replaced by a placeholder."""
    out = []
    for line in raw.splitlines():
        e = orjson.loads(line)
        if e.get("ts_source") == "read":
            e["ts"] = READ_TS
        out.append(orjson.dumps(e) + b"\n")
    return b"".join(out)


@pytest.mark.parametrize(("fmt", "golden"), [("table", "replay-samples.table.txt"),
                                              ("json", "replay-samples.json"),
                                              ("prom", "replay-samples.prom")])
def test_golden_output_per_format(fmt: str, golden: str) -> None:
    first = _replay("samples", "--format", fmt).stdout
    _check_golden(golden, first)
    assert _replay("samples", "--format", fmt).stdout == first  # deterministic run to run


def test_golden_events() -> None:
    raw = _replay(*EVENT_INPUTS, "--format", "events").stdout
    stable = _stable_events(raw)
    _check_golden("replay-subset.events.jsonl", stable)
    # Lines without their own time take their predecessor's in a replay, never today's date.
    assert READ_TS.encode() not in stable
    # The gz's 44 untimed lines (llama.cpp timing blocks are one event each, `llm_load_print_meta` lines) inherit.
    assert stable.count(b'"ts_source":"previous"') == 44
    first = orjson.loads(stable.splitlines()[0])
    assert "ts_source" not in first


def test_table_is_the_default_and_has_no_colour_when_piped() -> None:
    out = _replay("samples").stdout.decode()
    assert out == (GOLDEN / "replay-samples.table.txt").read_text(encoding="utf-8")
    assert "\x1b[" not in out and max(map(len, out.splitlines())) <= 110


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool (Debian package prometheus) not installed")
def test_prom_output_passes_promtool() -> None:
    out = _replay("samples", "--format", "prom").stdout
    proc = subprocess.run(["promtool", "check", "metrics"], input=out, capture_output=True, check=False)
    assert proc.returncode == 0, (proc.stdout + proc.stderr).decode()


def _prom_samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_prom_agrees_with_the_json_summary() -> None:
    prom = _prom_samples(_replay("samples", "--format", "prom").stdout.decode())
    summary = json.loads(_replay("samples", "--format", "json").stdout)
    for app in summary["apps"]:
        name = app["app"]
        reqs = sum(v for (n, lab), v in prom.items() if n == "logmetrics_requests_total" and ("app", name) in lab)
        assert reqs == app["requests"]["count"]
        timeouts = sum(v for (n, lab), v in prom.items() if n == "logmetrics_timeouts_total" and ("app", name) in lab)
        assert timeouts == app["timeouts"]["count"]
        lines = sum(v for (n, lab), v in prom.items() if n == "logmetrics_log_lines_total" and ("app", name) in lab)
        assert lines == app["events"]
        timed = sum(v for (n, lab), v in prom.items()
                    if n == "logmetrics_request_duration_seconds_count" and ("app", name) in lab)
        assert timed == (app["requests"]["latency_ms"] or {"count": 0})["count"]
    # every histogram: cumulative buckets ending in +Inf == _count
    for (n, lab), v in prom.items():
        if n.endswith("_count"):
            base = n[: -len("_count")]
            assert prom[(base + "_bucket", tuple(sorted((*lab, ("le", "+Inf")))))] == v
    assert prom[("logmetrics_lines_read_total", ())] == summary["lines_read"]
    # the newest own timestamp of the samples, not the wall clock of the replay
    assert prom[("logmetrics_last_event_timestamp_seconds", (("app", "ollama"),))] == 1793703578.0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["/nonexistent/logs"], "/nonexistent/logs: no such file or folder"),
        (["{empty}"], "no log files in this folder"),
        (["{empty}/*.log"], "no file matches"),
        (["samples", "--since", "yesterday-ish"], "--since"),
    ],
)
def test_bad_paths_fail_with_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    args = [a.replace("{empty}", str(empty)) for a in args]
    proc = run_cli("replay", *args, cwd=ROOT)
    assert proc.returncode == 2
    assert proc.stdout == b""
    err = proc.stderr.decode()
    assert err.count("\n") == 1 and err.startswith("logmetrics: error: ") and message in err, err


def test_gz_rotated_logs_are_read_like_plain_ones(tmp_path: Path) -> None:
    lines = (ROOT / "samples/nginx/access.log").read_bytes()
    (tmp_path / "plain").mkdir()
    (tmp_path / "gz").mkdir()
    (tmp_path / "plain/access.log").write_bytes(lines)
    (tmp_path / "gz/access.log.1.gz").write_bytes(gzip.compress(lines, mtime=0))
    a = json.loads(run_cli("replay", str(tmp_path / "plain"), "-f", "json").stdout)
    b = json.loads(run_cli("replay", str(tmp_path / "gz"), "-f", "json").stdout)
    for d in (a, b):
        for app in d["apps"]:
            app.pop("files")
    assert a["apps"] == b["apps"] and a["apps"][0]["requests"]["count"] == 333
    assert a["lines_read"] == b["lines_read"] == lines.count(b"\n")


def test_emit_writes_events_while_stdout_has_only_the_result(tmp_path: Path) -> None:
    emitted = tmp_path / "events.jsonl"
    table = _replay(*EVENT_INPUTS, "--emit", str(emitted)).stdout
    assert table.startswith(b"logmetrics replay: ")
    events = _replay(*EVENT_INPUTS, "--format", "events").stdout
    assert _stable_events(emitted.read_bytes()) == _stable_events(events)


def test_app_and_time_filters_apply_to_the_summary() -> None:
    only = json.loads(_replay("samples", "-f", "json", "--app", "nginx").stdout)
    assert [a["app"] for a in only["apps"]] == ["nginx"]
    window = json.loads(_replay("samples", "-f", "json", "--app", "nginx", "--since", "2026-11-03T10:25:00Z",
                                "--until", "2026-11-03T10:40:00Z").stdout)
    app = window["apps"][0]
    assert app["first_ts"] >= "2026-11-03T10:25:00.000Z" and app["last_ts"] < "2026-11-03T10:40:00.000Z"
    full = only["apps"][0]
    assert 0 < app["requests"]["count"] < full["requests"]["count"]
    assert app["timeouts"]["count"] == full["timeouts"]["count"] == 7  # all upstream timeouts are in the window


def test_progress_bar_goes_to_a_terminal_on_stderr_only(tmp_path: Path) -> None:
    """A big input with stderr on a pty: the bar is drawn there, stdout is byte-identical."""
    pty = pytest.importorskip("pty")
    big = tmp_path / "big.log"
    chunk = (ROOT / "samples/nginx/access.log").read_bytes()
    with open(big, "wb") as f:
        for _ in range(9 * (1 << 20) // len(chunk) + 1):
            f.write(chunk)
    plain = run_cli("replay", str(big), "-f", "prom", "--no-progress").stdout
    master, slave = pty.openpty()
    drawn = bytearray()

    def drain() -> None:  # read the terminal side while the bar is drawn, or the pty buffer fills up
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:
                return
            if not data:
                return
            drawn.extend(data)

    reader = threading.Thread(target=drain)
    reader.start()
    try:
        proc = subprocess.run([LOGMETRICS, "replay", str(big), "-f", "prom"], stdout=subprocess.PIPE,
                              stderr=slave, check=False, timeout=300)
    finally:
        os.close(slave)
        reader.join(timeout=10)
        os.close(master)
    assert proc.returncode == 0
    assert proc.stdout == plain
    assert b"replay" in bytes(drawn)  # the bar's label reached the terminal



def test_two_replays_of_the_samples_are_byte_identical() -> None:
    """No wall clock in a replay: untimed lines inherit, look ahead, or take the file's mtime."""
    first = _replay("samples", "--format", "events").stdout
    assert first == _replay("samples", "--format", "events").stdout
    sources = {orjson.loads(x).get("ts_source") for x in first.splitlines()}
    assert "read" not in sources and {"previous", "next"} <= sources


def test_an_apps_own_log_folder_names_the_app(tmp_path: Path) -> None:
    """`DeepChat/logs/main.log`: electron-log's plain lines are DeepChat's by the folder that holds `logs`."""
    log = tmp_path / "DeepChat" / "logs" / "main.log"
    log.parent.mkdir(parents=True)
    log.write_text("[2025-05-01 10:00:00.123] [info]  Window created\n")
    other = tmp_path / "Some Electron App" / "logs" / "main.log"
    other.parent.mkdir(parents=True)
    other.write_text("[2025-05-01 10:00:00.123] [info]  Window created\n")
    apps = {orjson.loads(x)["file"]: orjson.loads(x)["app"]
            for x in _replay(str(tmp_path), "--format", "events").stdout.splitlines()}
    assert apps == {str(log): "deepchat", str(other): "unknown"}
