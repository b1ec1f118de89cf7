"""`logmetrics run` as a real subprocess: signals, restarts, HTTP endpoints. Polls with bounded timeouts."""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from logmetrics import parse_lines
from tests.conftest import LOGMETRICS, ROOT, run_cli

CONTRACT_METRICS = [
    "logmetrics_requests_total", "logmetrics_request_duration_seconds", "logmetrics_timeouts_total",
    "logmetrics_errors_total", "logmetrics_log_lines_total", "logmetrics_model_load_duration_seconds",
    "logmetrics_tokens_total", "logmetrics_tokens_per_second", "logmetrics_last_event_timestamp_seconds",
]
SELF_METRICS = ["logmetrics_lines_read_total", "logmetrics_bytes_read_total", "logmetrics_files_watched",
                "logmetrics_read_lag_bytes"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(pred: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        got = pred()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)


_LIVE: list[subprocess.Popen[bytes]] = []


@pytest.fixture(autouse=True)
def _no_leftover_processes() -> Iterator[None]:
    """A failed assertion must not leave a `logmetrics run` behind."""
    yield
    while _LIVE:
        p = _LIVE.pop()
        if p.poll() is None:
            p.kill()
            p.wait(timeout=10)


class Run:
    """One `logmetrics run` process over tmp/logs, writing tmp/events.jsonl."""

    def __init__(self, tmp: Path, *extra: str, preexec: Callable[[], None] | None = None) -> None:
        self.tmp = tmp
        self.port = free_port()
        self.stderr = open(tmp / "stderr.log", "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [LOGMETRICS, "run", str(tmp / "logs" / "*.log"), "--output", str(tmp / "events.jsonl"),
             "--positions", str(tmp / "positions.json"), "--listen", f"127.0.0.1:{self.port}",
             "--start-at", "beginning", *extra],
            stderr=self.stderr, stdout=subprocess.DEVNULL, cwd=tmp, preexec_fn=preexec,
        )
        _LIVE.append(self.proc)
        wait_until(lambda: self.get("/healthz")[0] in (200, 503), 20, "the HTTP endpoint")

    def get(self, path: str) -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=2) as r:
                return int(r.status), bytes(r.read())
        except urllib.error.HTTPError as e:
            return int(e.code), bytes(e.read())
        except OSError:
            if self.proc.poll() is not None:
                raise AssertionError(f"logmetrics run exited: {(self.tmp / 'stderr.log').read_text()}") from None
            return 0, b""

    def stop(self, sig: int = signal.SIGTERM) -> tuple[int, float]:
        t0 = time.monotonic()
        self.proc.send_signal(sig)
        code = self.proc.wait(timeout=10)
        self.stderr.close()
        return code, time.monotonic() - t0


def events(tmp: Path) -> list[dict[str, Any]]:
    """Complete lines only: the writer may be mid-line when a test polls."""
    p = tmp / "events.jsonl"
    data = p.read_bytes() if p.exists() else b""
    return [orjson.loads(x) for x in data[: data.rfind(b"\n") + 1].splitlines()]


def lines(tmp: Path) -> list[str]:
    return [e["line"] for e in events(tmp)]


def write(path: Path, text: str) -> None:
    with open(path, "a") as f:
        f.write(text)


@pytest.fixture
def tmp(tmp_path: Path) -> Iterator[Path]:
    (tmp_path / "logs").mkdir()
    yield tmp_path


def test_restart_after_sigterm_every_line_exactly_once(tmp: Path) -> None:
    log = tmp / "logs" / "app.log"
    write(log, "".join(f"a {i}\n" for i in range(100)))
    r = Run(tmp)
    wait_until(lambda: len(lines(tmp)) == 100, what="100 events")
    write(log, "half")
    code, took = r.stop()
    assert code == 0 and took < 2.0, (code, took)
    write(log, " line\n" + "".join(f"b {i}\n" for i in range(50)))
    os.rename(log, tmp / "logs" / "app.log.1")  # rotated while down, to a name we do not follow
    write(log, "".join(f"c {i}\n" for i in range(50)))
    write(tmp / "logs" / "new.log", "new file while down\n")
    r = Run(tmp)
    expected = ([f"a {i}" for i in range(100)] + ["half line"] + [f"b {i}" for i in range(50)]
                + [f"c {i}" for i in range(50)] + ["new file while down"])
    wait_until(lambda: len(lines(tmp)) >= len(expected), what="all events")
    code, _ = r.stop()
    assert code == 0
    got = lines(tmp)
    assert sorted(got) == sorted(expected), "every line exactly once"
    by_file: dict[str, list[str]] = {}
    for e in events(tmp):
        by_file.setdefault(e["file"], []).append(e["line"])
    assert [x for x in by_file[str(log)] if x[0] in "abh"] == [x for x in expected if x[0] in "abh"], "in order"


def test_sigkill_loses_nothing_and_duplicates_at_most_one_second(tmp: Path) -> None:
    """Documented bound: after SIGKILL, at most the lines read in the last second (positions are saved
    every second) plus < 32 lines before a held multiline record are emitted twice; none are lost."""
    log = tmp / "logs" / "app.log"
    rate = 200
    stop = threading.Event()
    written: list[int] = []

    def writer() -> None:
        i = 0
        with open(log, "a") as f:
            while not stop.is_set():
                f.write(f"n {i}\n")
                f.flush()
                written.append(i)
                i += 1
                time.sleep(1 / rate)

    r = Run(tmp)
    th = threading.Thread(target=writer)
    th.start()
    try:
        wait_until(lambda: len(lines(tmp)) > 2 * rate, what="two seconds of events")
        r.stop(signal.SIGKILL)
        time.sleep(0.3)  # the writer goes on while we are down
        r = Run(tmp)
        mark = len(written) + rate // 2
        wait_until(lambda: f"n {mark}" in set(lines(tmp)), what="catching up with the writer")
    finally:
        stop.set()
        th.join()
    n = len(written)
    wait_until(lambda: {f"n {i}" for i in range(n)} <= set(lines(tmp)), what="every line")
    r.stop()
    counts = Counter(lines(tmp))
    assert all(counts[f"n {i}"] >= 1 for i in range(n)), "nothing lost"
    dups = sorted(int(k.split()[1]) for k, c in counts.items() if c > 1)
    assert all(c <= 2 for c in counts.values())
    assert len(dups) <= rate * 1.0 + 32 + rate // 2, f"{len(dups)} duplicates"  # + half a second of slack
    if dups:
        assert dups == list(range(dups[0], dups[-1] + 1)), "one contiguous run: the lines after the last save"


def test_metrics_and_healthz_over_http(tmp: Path) -> None:
    shutil.copy(ROOT / "samples" / "ollama" / "server.log", tmp / "logs" / "ollama.log")
    shutil.copy(ROOT / "samples" / "nginx" / "access.log", tmp / "logs" / "nginx.log")
    r = Run(tmp)
    try:
        # As many events as a replay of the same files gives (a timing block is one event, not a line each).
        n = sum(len(parse_lines((tmp / "logs" / f).read_text().splitlines())) for f in ("ollama.log", "nginx.log"))
        wait_until(lambda: len(lines(tmp)) >= n, what="events")
        code, body = r.get("/metrics")
        assert code == 200
        text = body.decode()
        for name in CONTRACT_METRICS + SELF_METRICS:
            assert f"# TYPE {name} " in text, name
        samples = [x.split("{")[0].split(" ")[0] for x in text.splitlines() if x and not x.startswith("#")]
        for name in ("logmetrics_requests_total", "logmetrics_request_duration_seconds_bucket",
                     "logmetrics_log_lines_total", "logmetrics_files_watched", "logmetrics_lines_read_total"):
            assert name in samples, name
        assert "logmetrics_files_watched 2.0" in text
        code, body = r.get("/healthz")
        health = json.loads(body)
        assert code == 200 and health["status"] == "ok"
        assert health["files_watched"] == 2 and health["last_read"] is not None
        assert r.get("/nope")[0] == 404
    finally:
        r.stop()


def _small_file_limit() -> None:
    """As root, folder modes do not stop writes; a file-size limit does (EFBIG instead of SIGXFSZ)."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))


def test_healthz_503_while_output_cannot_be_written_and_nothing_lost(tmp: Path) -> None:
    log = tmp / "logs" / "app.log"
    write(log, "".join(f"small {i}\n" for i in range(10)))
    r = Run(tmp, preexec=_small_file_limit)
    wait_until(lambda: len(lines(tmp)) == 10, what="first events")
    assert r.get("/healthz")[0] == 200
    write(log, "".join(f"big {i} {'x' * 100}\n" for i in range(400)))  # ~60 kB of events: over the limit
    _, body = wait_until(lambda: (c := r.get("/healthz"))[0] == 503 and c, what="503")
    assert json.loads(body)["output_error"]
    assert (tmp / "events.jsonl").stat().st_size <= 20_000
    assert r.stop()[0] == 0
    # The limit lifted (a new process without it): what could not be written is read again, once.
    (tmp / "events.jsonl").rename(tmp / "events-1.jsonl")
    r = Run(tmp)
    wait_until(lambda: (tmp / "events.jsonl").exists() and len(lines(tmp)) > 0, what="resumed events")
    first = [orjson.loads(x)["line"] for x in (tmp / "events-1.jsonl").read_bytes().splitlines()]
    wait_until(lambda: len(first) + len(lines(tmp)) >= 410, what="the rest")
    assert r.stop()[0] == 0
    assert first + lines(tmp) == [f"small {i}" for i in range(10)] + [f"big {i} {'x' * 100}" for i in range(400)]


def test_sighup_reopens_output(tmp: Path) -> None:
    log = tmp / "logs" / "app.log"
    write(log, "before\n")
    r = Run(tmp)
    wait_until(lambda: lines(tmp) == ["before"], what="first event")
    (tmp / "events.jsonl").rename(tmp / "events.jsonl.1")
    r.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: (tmp / "events.jsonl").exists(), what="reopened output")
    write(log, "after\n")
    wait_until(lambda: lines(tmp) == ["after"], what="event in the new file")
    assert r.stop()[0] == 0


@pytest.mark.parametrize("mode", ["inotify", "poll"])
def test_new_file_picked_up_live(tmp: Path, mode: str) -> None:
    r = Run(tmp, *(["--poll"] if mode == "poll" else []))
    try:
        t0 = time.monotonic()
        write(tmp / "logs" / "later.log", "hello later\n")
        wait_until(lambda: lines(tmp) == ["hello later"], 5, "the new file's line")
        write(tmp / "logs" / "later.log", "second\n")
        wait_until(lambda: lines(tmp) == ["hello later", "second"], 5, "the appended line")
        assert time.monotonic() - t0 < 5
    finally:
        assert r.stop()[0] == 0


def test_no_paths_is_a_one_line_error(tmp: Path) -> None:
    res = run_cli("run", "--listen", f"127.0.0.1:{free_port()}", cwd=tmp, env={"LOGMETRICS_PATHS": ""})
    assert res.returncode == 2
    err = res.stderr.decode().strip()
    assert len(err.splitlines()) == 1 and "nothing to follow" in err


def test_unwritable_output_is_a_one_line_error(tmp: Path) -> None:
    (tmp / "out").mkdir()
    res = run_cli("run", str(tmp / "logs" / "*.log"), "--output", str(tmp / "out"), cwd=tmp)
    assert res.returncode == 2
    assert len(res.stderr.decode().strip().splitlines()) == 1 and "out" in res.stderr.decode()




def test_secrets_are_redacted_before_the_events_file_and_counted(tmp: Path) -> None:
    write(tmp / "logs" / "proxy.log",
          'level=info msg="forwarding" authorization="Bearer sk-proj-AbCdEfGhIjKlMnOpQrStUv" to=ollama\n'
          "GET /api/tags?api_key=hunter2secret HTTP/1.1 200\n")
    r = Run(tmp)
    try:
        wait_until(lambda: len(lines(tmp)) == 2, what="2 events")
        raw = (tmp / "events.jsonl").read_text()
        assert "sk-proj-AbCdEfGhIjKlMnOpQrStUv" not in raw and "hunter2secret" not in raw
        assert raw.count("[REDACTED]") >= 2
        text = r.get("/metrics")[1].decode()
        assert 'logmetrics_redactions_total{rule="key_value"}' in text
    finally:
        r.stop()
