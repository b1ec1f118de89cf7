"""Every dashboard query returns data when the real programs run on the samples.

Prometheus part: `logmetrics run` follows copies of the sample logs, a real
`prometheus` binary scrapes it every second, then each Prometheus panel query of
grafana/dashboards/*.json is run through the HTTP API. The copies start empty
and the sample lines are appended after the first scrape, so counters move
between scrapes and rates are non-zero, as on a live server.

Loki part (only where `loki` and `promtail` are on PATH): the events file is
shipped with our promtail/promtail.yml into a Loki running our loki/loki.yml,
and each LogQL panel query must return data over the samples' time range.

Every server is started by a fixture that stops it; every wait is a bounded poll.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
DASHBOARDS = sorted((ROOT / "grafana" / "dashboards").glob("*.json"))
T = TypeVar("T")


# --- helpers ---------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def poll(what: str, check: Callable[[], T | None], timeout: float = 60.0, every: float = 0.5) -> T:
    """Call `check` until it returns something truthy; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what} (last: {last!r})")


def http_json(url: str, params: dict[str, str] | None = None) -> Any:
    if params:
        url += "?" + urllib.parse.urlencode(params)
    with urllib.request.urlopen(url, timeout=10) as resp:
        return json.loads(resp.read())


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return bool(resp.status == 200)
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


class Procs:
    """Started processes, stopped (TERM, then KILL) when the fixture ends."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, cmd: list[str], log: Path, env: dict[str, str] | None = None,
              cwd: Path | None = None) -> subprocess.Popen[bytes]:
        out = log.open("wb")
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=cwd)
        self.procs.append(proc)
        return proc

    def stop_all(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in reversed(self.procs):
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)


def dashboard_queries(uid: str) -> list[tuple[str, str]]:
    """(panel title, expression) of every target that runs against datasource `uid`."""
    found = []
    for path in DASHBOARDS:
        for panel in json.loads(path.read_text())["panels"]:
            for target in panel.get("targets", []):
                ds = target.get("datasource") or panel.get("datasource") or {}
                if ds.get("uid") == uid:
                    found.append((panel["title"], target["expr"]))
    return found


def grafana_vars(expr: str, interval: str, range_: str) -> str:
    return (expr.replace("$__rate_interval", interval).replace("$__interval", interval)
            .replace("$__range", range_).replace("$app", ".*"))


def logmetrics_cmd() -> list[str]:
    script = Path(sys.executable).with_name("logmetrics")
    if script.exists():
        return [str(script)]
    code = "import sys; from logmetrics.cli import main; sys.argv[0] = 'logmetrics'; main()"
    return [sys.executable, "-c", code]


def sample_files() -> list[Path]:
    """The plain-text sample logs (compressed rotations are replay's business, not the tailer's)."""
    files = [p for p in SAMPLES.rglob("*.log") if p.is_file()]
    assert files, "no sample logs under samples/"
    return sorted(files)


# --- logmetrics run on the samples -----------------------------------------------------

@pytest.fixture(scope="module")
def procs() -> Iterator[Procs]:
    p = Procs()
    yield p
    p.stop_all()


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("stack")


@pytest.fixture(scope="module")
def tailer(procs: Procs, workdir: Path) -> dict[str, Any]:
    """`logmetrics run` following empty copies of the samples; returns where it listens."""
    logs = workdir / "logs"
    copies = {}
    for src in sample_files():
        dst = logs / src.relative_to(SAMPLES)
        dst.parent.mkdir(parents=True, exist_ok=True)
        dst.touch()
        copies[src] = dst
    port = free_port()
    cmd = [*logmetrics_cmd(), "run", *map(str, copies.values()), "--start-at", "beginning",
           "--output", str(workdir / "events.jsonl"), "--positions", str(workdir / "pos.json"),
           "--listen", f"127.0.0.1:{port}"]
    log = workdir / "logmetrics.log"
    proc = procs.start(cmd, log, cwd=workdir)

    def healthy() -> bool:
        if proc.poll() is not None:
            return True
        return http_ok(f"http://127.0.0.1:{port}/healthz")

    poll("logmetrics /healthz", healthy, timeout=30)
    if proc.poll() is not None:
        output = log.read_text(errors="replace")
        if "not available yet" in output:
            pytest.skip("`logmetrics run` is not implemented yet")
        raise AssertionError(f"logmetrics run exited with {proc.returncode}: {output[-2000:]}")
    return {"port": port, "copies": copies, "events": workdir / "events.jsonl"}


@pytest.fixture(scope="module")
def prometheus(procs: Procs, workdir: Path, tailer: dict[str, Any]) -> str:
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.skip("prometheus binary is not installed")
    port = free_port()
    config = workdir / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        "scrape_configs:\n  - job_name: logmetrics\n    static_configs:\n"
        f"      - targets: ['127.0.0.1:{tailer['port']}']\n"
    )
    procs.start([binary, f"--config.file={config}", f"--storage.tsdb.path={workdir / 'prom-data'}",
                 f"--web.listen-address=127.0.0.1:{port}"], workdir / "prometheus.log")
    url = f"http://127.0.0.1:{port}"

    def query(expr: str) -> list[Any]:
        result: list[Any] = http_json(f"{url}/api/v1/query", {"query": expr})["data"]["result"]
        return result

    def scraped() -> bool:
        try:
            return any(r["value"][1] == "1" for r in query('up{job="logmetrics"}'))
        except (urllib.error.URLError, ConnectionError):
            return False

    poll("Prometheus to scrape logmetrics", scraped, timeout=60)
    # Now the lines arrive in portions, each scraped before the next, as on a live server: counters
    # rise across scrapes, so rates (and ratios and quantiles of rates) are real numbers, not 0/0.
    portions = 6
    lines = {src: src.read_bytes().splitlines(keepends=True) for src in tailer["copies"]}
    total = 0
    for i in range(portions):
        for src, dst in tailer["copies"].items():
            part = lines[src][len(lines[src]) * i // portions: len(lines[src]) * (i + 1) // portions]
            total += len(part)
            with dst.open("ab") as f:
                f.write(b"".join(part))

        def read_and_scraped(total: int = total) -> bool:
            values = query("logmetrics_lines_read_total")
            return bool(values) and float(values[0]["value"][1]) >= total

        poll(f"logmetrics to read {total} lines and Prometheus to scrape it", read_and_scraped, timeout=90)
    return url


def finite(result: list[Any]) -> bool:
    return any(math.isfinite(float(r["value"][1])) for r in result)


@pytest.mark.parametrize(("title", "expr"), dashboard_queries("prometheus"),
                         ids=[t for t, _ in dashboard_queries("prometheus")])
def test_prometheus_panel_returns_data(prometheus: str, title: str, expr: str) -> None:
    query = grafana_vars(expr, "1m", "1h")

    def has_data() -> list[Any] | None:
        body = http_json(f"{prometheus}/api/v1/query", {"query": query})
        assert body["status"] == "success", body
        result: list[Any] = body["data"]["result"]
        return result if finite(result) else None

    result = poll(f"data for {title!r}: {query}", has_data, timeout=30, every=1)
    assert result


def test_events_file_is_json_lines_with_contract_keys(tailer: dict[str, Any], prometheus: str) -> None:
    events = [json.loads(line) for line in tailer["events"].read_text().splitlines()]
    assert len(events) >= 100
    for event in events:
        assert {"ts", "app", "kind", "level", "msg", "line", "file"} <= set(event)
    assert {"request", "timeout", "error", "model_load", "inference"} <= {e["kind"] for e in events}


# --- Loki + Promtail (only where both binaries exist) ---------------------------------

@pytest.fixture(scope="module")
def loki(procs: Procs, workdir: Path, tailer: dict[str, Any], prometheus: str) -> str:
    loki_bin, promtail_bin = shutil.which("loki"), shutil.which("promtail")
    if loki_bin is None or promtail_bin is None:
        pytest.skip("loki and promtail binaries are not on PATH")
    http, grpc, promtail_port = free_port(), free_port(), free_port()
    env = dict(os.environ,
               LOKI_DATA_DIR=str(workdir / "loki"), LOKI_RULES_DIR=str(ROOT / "loki" / "rules"),
               LOKI_HTTP_ADDRESS="127.0.0.1", LOKI_HTTP_PORT=str(http), LOKI_GRPC_PORT=str(grpc),
               LOKI_URL=f"http://127.0.0.1:{http}", LOGMETRICS_EVENTS_FILE=str(tailer["events"]),
               LOGMETRICS_BACKFILL_DIR=str(workdir / "backfill"), RAWLOGS_DIR=str(workdir / "logs"),
               PROMTAIL_HTTP_ADDRESS="127.0.0.1", PROMTAIL_HTTP_PORT=str(promtail_port),
               PROMTAIL_POSITIONS=str(workdir / "promtail-positions.yaml"))
    procs.start([loki_bin, f"-config.file={ROOT / 'loki' / 'loki.yml'}", "-config.expand-env=true"],
                workdir / "loki.log", env=env)
    url = f"http://127.0.0.1:{http}"
    poll("Loki /ready", lambda: http_ok(f"{url}/ready"), timeout=90, every=1)
    promtail_cfg = ROOT / "promtail" / "promtail.yml"
    procs.start([promtail_bin, f"-config.file={promtail_cfg}", "-config.expand-env=true"],
                workdir / "promtail.log", env=env)
    poll("Promtail /ready", lambda: http_ok(f"http://127.0.0.1:{promtail_port}/ready"), timeout=60)
    return url


def events_window(events: Path) -> tuple[datetime, datetime]:
    stamps = [json.loads(line)["ts"] for line in events.read_text().splitlines()]
    parsed = sorted(datetime.fromisoformat(s.replace("Z", "+00:00")) for s in stamps)
    end = parsed[-1] + timedelta(minutes=1)
    return max(parsed[0], end - timedelta(hours=24)) - timedelta(minutes=1), end


@pytest.mark.parametrize(("title", "expr"), dashboard_queries("loki"),
                         ids=[t for t, _ in dashboard_queries("loki")])
def test_loki_panel_returns_data(loki: str, tailer: dict[str, Any], title: str, expr: str) -> None:
    start, end = events_window(tailer["events"])
    seconds = int((end - start).total_seconds())
    step = max(60, seconds // 200)
    query = grafana_vars(expr, f"{step}s", f"{seconds}s")
    instant = "$__range" in expr

    def has_data() -> list[Any] | None:
        if instant:
            params = {"query": query, "time": str(end.timestamp())}
            body = http_json(f"{loki}/loki/api/v1/query", params)
        else:
            params = {"query": query, "start": str(int(start.timestamp() * 1e9)),
                      "end": str(int(end.timestamp() * 1e9)), "step": f"{step}s", "limit": "100"}
            body = http_json(f"{loki}/loki/api/v1/query_range", params)
        assert body["status"] == "success", body
        result: list[Any] = body["data"]["result"]
        return result or None

    assert poll(f"Loki data for {title!r}: {query}", has_data, timeout=120, every=2)


def test_loki_ruler_loaded_our_rules(loki: str) -> None:
    def rules() -> str | None:
        try:
            with urllib.request.urlopen(f"{loki}/loki/api/v1/rules", timeout=5) as resp:
                text: str = resp.read().decode()
                return text if "OllamaNoLogLines" in text else None
        except urllib.error.HTTPError:
            return None

    text = poll("the Loki ruler to load loki/rules", rules, timeout=60, every=2)
    rules_file = ROOT / "loki" / "rules" / "fake" / "logmetrics.yml"
    for name in re.findall(r"alert: (\w+)", rules_file.read_text()):
        assert name in text


def test_repo_prometheus_config_runs_unchanged_outside_compose(procs: Procs, workdir: Path) -> None:
    """README's "run without Docker" command: the repo's own prometheus.local.yml, rules and all."""
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.skip("prometheus binary is not installed")
    port = free_port()
    procs.start([binary, f"--config.file={ROOT / 'prometheus' / 'prometheus.local.yml'}",
                 f"--web.listen-address=127.0.0.1:{port}", f"--storage.tsdb.path={workdir / 'prom-local'}"],
                workdir / "prometheus-local.log")
    url = f"http://127.0.0.1:{port}"
    poll("Prometheus to be ready", lambda: http_ok(f"{url}/-/ready"), timeout=60)
    rules_doc = yaml.safe_load((ROOT / "prometheus" / "rules" / "logmetrics.yml").read_text())
    wanted = {r["alert"] for g in rules_doc["groups"] for r in g["rules"] if "alert" in r}

    def loaded() -> set[str] | None:
        groups = http_json(f"{url}/api/v1/rules")["data"]["groups"]
        names = {r["name"] for g in groups for r in g["rules"]}
        return names if names >= wanted else None

    assert poll("the alert rules to load", loaded, timeout=30) >= wanted
    jobs = poll("the scrape targets", lambda: {t["labels"]["job"] for t in
                                              http_json(f"{url}/api/v1/targets")["data"]["activeTargets"]},
                timeout=30)
    assert jobs == {"logmetrics", "prometheus"}
