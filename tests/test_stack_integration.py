"""Every dashboard query returns data when the real programs run on the samples.

Prometheus part: `logmetrics run` follows copies of the sample logs, a real
`prometheus` binary scrapes it every second, then each Prometheus panel query of
grafana/dashboards/*.json is run through the HTTP API. The copies start empty
and the sample lines are appended after the first scrape, so counters move
between scrapes and rates are non-zero, as on a live server.

Loki part (only where `loki` and `promtail` are on PATH): the events file is
shipped with our promtail/promtail.yml into a Loki running our loki/loki.yml,
and each LogQL panel query must return data over the samples' time range. A
second, separate pipeline ships `logmetrics run samples/ --start-at beginning`
(the backlog, as a first start reads it) into a fresh Loki: every event written
must be stored, and Loki must discard nothing (`loki_discarded_samples_total`,
since a partly refused push can still be answered 204). A third Loki proves
that day-old (backfilled) entries are queryable at once, and that the alert on
Loki's discarded samples fires on the real metric.

Every server is started by a fixture that stops it; every wait is a bounded poll.
"""

from __future__ import annotations

import collections
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
from datetime import UTC, datetime, timedelta
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

def loki_binaries() -> tuple[str, str]:
    loki_bin, promtail_bin = shutil.which("loki"), shutil.which("promtail")
    if loki_bin is None or promtail_bin is None:
        pytest.skip("loki and promtail binaries are not on PATH")
    return loki_bin, promtail_bin


def start_loki(procs: Procs, home: Path) -> tuple[str, dict[str, str]]:
    """Our loki/loki.yml, unchanged, on free loopback ports; returns its URL and environment."""
    loki_bin, _ = loki_binaries()
    http, grpc = free_port(), free_port()
    home.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, LOKI_DATA_DIR=str(home / "loki"), LOKI_RULES_DIR=str(ROOT / "loki" / "rules"),
               LOKI_HTTP_ADDRESS="127.0.0.1", LOKI_HTTP_PORT=str(http), LOKI_GRPC_PORT=str(grpc))
    procs.start([loki_bin, f"-config.file={ROOT / 'loki' / 'loki.yml'}", "-config.expand-env=true"],
                home / "loki.log", env=env)
    url = f"http://127.0.0.1:{http}"
    poll("Loki /ready", lambda: http_ok(f"{url}/ready"), timeout=90, every=1)
    return url, env


def start_promtail(procs: Procs, home: Path, loki_url: str, events: Path, rawlogs: Path) -> str:
    """Our promtail/promtail.yml, unchanged, shipping `events` (and `rawlogs`); returns its URL."""
    _, promtail_bin = loki_binaries()
    port = free_port()
    (home / "backfill").mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, LOKI_URL=loki_url, LOGMETRICS_EVENTS_FILE=str(events),
               LOGMETRICS_BACKFILL_DIR=str(home / "backfill"), RAWLOGS_DIR=str(rawlogs),
               PROMTAIL_HTTP_ADDRESS="127.0.0.1", PROMTAIL_HTTP_PORT=str(port),
               PROMTAIL_POSITIONS=str(home / "promtail-positions.yaml"))
    procs.start([promtail_bin, f"-config.file={ROOT / 'promtail' / 'promtail.yml'}", "-config.expand-env=true"],
                home / "promtail.log", env=env)
    url = f"http://127.0.0.1:{port}"
    poll("Promtail /ready", lambda: http_ok(f"{url}/ready"), timeout=60)
    return url


@pytest.fixture(scope="module")
def loki(procs: Procs, workdir: Path, tailer: dict[str, Any], prometheus: str) -> str:
    loki_binaries()
    url, _ = start_loki(procs, workdir)
    start_promtail(procs, workdir, url, tailer["events"], workdir / "logs")
    return url


def parse_ts(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def events_window(events: Path) -> tuple[datetime, datetime]:
    """The samples' own time range: events that carry their own time (no `ts_source`), not the
    ones stamped when they were read, which would move the window to today."""
    own = [e["ts"] for e in map(json.loads, events.read_text().splitlines()) if "ts_source" not in e]
    assert own, "no event carries its own time"
    parsed = sorted(map(parse_ts, own))
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
    assert jobs == {"logmetrics", "loki", "prometheus"}


# --- the backlog, shipped: every event stored, nothing discarded ------------------------

def metric_samples(url: str) -> list[tuple[str, dict[str, str], float]]:
    """(name, labels, value) of every sample a /metrics endpoint exposes."""
    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(f"{url}/metrics", timeout=10) as resp:
        text = resp.read().decode()
    return [(s.name, dict(s.labels), float(s.value))
            for family in text_string_to_metric_families(text) for s in family.samples]


def metric_sum(url: str, name: str, **labels: str) -> float:
    return sum(v for n, lab, v in metric_samples(url) if n == name and labels.items() <= lab.items())


def discarded(loki_url: str) -> dict[str, float]:
    """loki_discarded_samples_total by reason (Loki creates a reason's series at its first refusal)."""
    found: dict[str, float] = {}
    for name, labels, value in metric_samples(loki_url):
        if name == "loki_discarded_samples_total":
            found[labels["reason"]] = found.get(labels["reason"], 0.0) + value
    return found


def loki_count(loki_url: str, selector: str, stamps: list[datetime]) -> int:
    """How many entries Loki returns for `selector` around `stamps`: one instant count_over_time per
    cluster of timestamps (clusters more than an hour apart), each padded by a second."""
    total = 0
    ordered = sorted(stamps)
    clusters: list[list[datetime]] = []
    for ts in ordered:
        if clusters and ts - clusters[-1][-1] <= timedelta(hours=1):
            clusters[-1].append(ts)
        else:
            clusters.append([ts])
    for cluster in clusters:
        end = cluster[-1] + timedelta(seconds=1)
        seconds = math.ceil((end - cluster[0]).total_seconds()) + 1
        body = http_json(f"{loki_url}/loki/api/v1/query",
                         {"query": f"sum(count_over_time({selector}[{seconds}s]))", "time": str(end.timestamp())})
        assert body["status"] == "success", body
        total += sum(int(float(r["value"][1])) for r in body["data"]["result"])
    return total


@pytest.fixture(scope="module")
def shipped(procs: Procs, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """`logmetrics run samples/ --start-at beginning` -> our Promtail -> a fresh Loki of its own,
    until Promtail has read the whole events file and Loki has answered every entry."""
    loki_binaries()
    home = tmp_path_factory.mktemp("shipped")
    events = home / "events.jsonl"
    port = free_port()
    log = home / "logmetrics.log"
    proc = procs.start([*logmetrics_cmd(), "run", str(SAMPLES), "--start-at", "beginning", "--output", str(events),
                        "--positions", str(home / "pos.json"), "--listen", f"127.0.0.1:{port}"], log, cwd=home)
    tailer_url = f"http://127.0.0.1:{port}"
    poll("logmetrics /healthz", lambda: proc.poll() is not None or http_ok(f"{tailer_url}/healthz"), timeout=30)
    assert proc.poll() is None, f"logmetrics run exited: {log.read_text(errors='replace')[-2000:]}"
    seen: list[int] = []

    def backlog_read() -> bool:
        if metric_sum(tailer_url, "logmetrics_read_lag_bytes") or not events.exists():
            return False
        seen.append(len(events.read_bytes().splitlines()))
        return len(seen) >= 3 and seen[-1] == seen[-3] > 0  # unchanged over two more polls

    poll("logmetrics to read the whole backlog", backlog_read, timeout=120, every=1)
    written = [json.loads(line) for line in events.read_text().splitlines()]

    url, _ = start_loki(procs, home)
    empty = home / "no-rawlogs"
    empty.mkdir()
    promtail = start_promtail(procs, home, url, events, empty)
    size = events.stat().st_size

    def all_answered() -> bool:
        read = metric_sum(promtail, "promtail_read_bytes_total", path=str(events))
        answered = (metric_sum(promtail, "promtail_sent_entries_total")
                    + metric_sum(promtail, "promtail_dropped_entries_total"))
        return read >= size and answered >= len(written)

    # Loki counts a refusal before it answers the push, so nothing moves after this.
    poll("Promtail to read the events file and Loki to answer every entry", all_answered, timeout=120, every=1)
    return {"loki": url, "promtail": promtail, "events": events, "written": written}


def test_loki_discards_nothing_of_the_shipped_backlog(shipped: dict[str, Any]) -> None:
    """Promtail puts each source file in its own streams, so files read one after another cannot make
    each other's entries "too far behind"; nothing else may be refused either."""
    reasons = discarded(shipped["loki"])
    read_stamped = sum(1 for e in shipped["written"] if e.get("ts_source") == "read")
    assert sum(reasons.values()) == 0, (
        f"Loki discarded {reasons} of {len(shipped['written'])} events written "
        f"({read_stamped} of them stamped with the time they were read, not their own)")


def test_loki_stores_every_event_of_the_shipped_backlog(shipped: dict[str, Any]) -> None:
    written: list[dict[str, Any]] = shipped["written"]
    stored = loki_count(shipped["loki"], '{job="logmetrics"}', [parse_ts(e["ts"]) for e in written])
    # What Loki silently keeps once: the same line at the same time in the same stream.
    keys = collections.Counter(json.dumps(e, sort_keys=True) for e in written)
    duplicates = sum(n - 1 for n in keys.values())
    read_stamped = sum(1 for e in written if e.get("ts_source") == "read")
    print(f"\n{len(written)} events written, {stored} stored, {sum(e.get('repeat', 0) > 0 for e in written)} "
          f"marked as repeats, discarded {dict(discarded(shipped['loki']))}")  # the figures, with `-s`
    assert stored == len(written), (
        f"{len(written)} events written, {stored} stored by Loki; discarded by reason: "
        f"{discarded(shipped['loki'])}; {duplicates} events are exact duplicates of another one (same file, "
        f"time and line: Loki keeps one); {read_stamped} stamped with the time they were read")


# --- backfill and Loki's own alert, on a Loki of their own --------------------------------

@pytest.fixture(scope="module")
def probe_loki(procs: Procs, tmp_path_factory: pytest.TempPathFactory) -> str:
    loki_binaries()
    url, _ = start_loki(procs, tmp_path_factory.mktemp("probe-loki"))
    return url


def push(loki_url: str, labels: dict[str, str], entries: list[tuple[datetime, str]]) -> int:
    body = {"streams": [{"stream": labels, "values": [[str(int(ts.timestamp() * 1e9)), line]
                                                      for ts, line in entries]}]}
    req = urllib.request.Request(f"{loki_url}/loki/api/v1/push", data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as e:
        return int(e.code)


def test_day_old_entry_is_queryable_as_soon_as_pushed(probe_loki: str) -> None:
    """docs/stack.md: backfilled entries are queryable at once, not only after their chunks are
    flushed (without query_store_max_look_back_period: -1 Loki 3.x single binary would skip the
    ingester for anything older than max_chunk_age + ~41m)."""
    for days in (1, 3):  # one stream each: the older would be "too far behind" the newer in one stream
        when = datetime.now(UTC) - timedelta(days=days)
        line = f"backfilled {days} day(s) ago"
        assert push(probe_loki, {"job": "backfill-probe", "age": f"{days}d"}, [(when, line)]) == 204
        body = http_json(f"{probe_loki}/loki/api/v1/query_range", {
            "query": f'{{job="backfill-probe", age="{days}d"}}', "limit": "10",
            "start": str(int((when - timedelta(minutes=1)).timestamp() * 1e9)),
            "end": str(int((when + timedelta(minutes=1)).timestamp() * 1e9))})
        values = [v[1] for r in body["data"]["result"] for v in r["values"]]
        assert values == [line], f"pushed {line!r}, queried back at once: {values}"


def test_backfill_through_promtail_is_queryable_at_once(loki: str, workdir: Path) -> None:
    """The documented path: an emit file dropped into the backfill folder, shipped by our Promtail."""
    when = datetime.now(UTC) - timedelta(days=2)
    stamp = when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"
    event = {"ts": stamp, "app": "backfill-probe", "kind": "log", "level": "info", "msg": "backfilled",
             "line": "backfilled", "file": "/var/log/probe/old.log"}
    (workdir / "backfill" / "probe.jsonl").write_text(json.dumps(event) + "\n")
    params = {"query": '{job="logmetrics", source="backfill", app="backfill-probe"}', "limit": "10",
              "start": str(int((when - timedelta(minutes=1)).timestamp() * 1e9)),
              "end": str(int((when + timedelta(minutes=1)).timestamp() * 1e9))}

    def found() -> list[Any] | None:
        result: list[Any] = http_json(f"{loki}/loki/api/v1/query_range", params)["data"]["result"]
        return result or None

    # Promtail looks for new files every 10 s; chunks are flushed only after 5 idle minutes.
    result = poll("the backfilled event in Loki", found, timeout=60, every=1)
    assert result[0]["stream"]["logfile"] == "/var/log/probe/old.log"
    assert [json.loads(v[1])["msg"] for v in result[0]["values"]] == ["backfilled"]


def test_discarded_samples_alert_fires_on_the_real_metric(procs: Procs, probe_loki: str,
                                                          tmp_path_factory: pytest.TempPathFactory) -> None:
    """prometheus/rules: LokiDiscardedSamples, evaluated by a real Prometheus scraping a real Loki,
    stays quiet while Loki refuses nothing and fires at the first refusal."""
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.skip("prometheus binary is not installed")
    home = tmp_path_factory.mktemp("prom-loki")
    port = free_port()
    target = probe_loki.removeprefix("http://")
    (home / "prometheus.yml").write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        f"rule_files:\n  - {ROOT / 'prometheus' / 'rules' / 'logmetrics.yml'}\n"
        f"scrape_configs:\n  - job_name: loki\n    static_configs:\n      - targets: ['{target}']\n")
    procs.start([binary, f"--config.file={home / 'prometheus.yml'}", f"--storage.tsdb.path={home / 'data'}",
                 f"--web.listen-address=127.0.0.1:{port}"], home / "prometheus.log")
    url = f"http://127.0.0.1:{port}"

    def alerts() -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = http_json(f"{url}/api/v1/alerts")["data"]["alerts"]
        return [a for a in found if a["labels"]["alertname"] == "LokiDiscardedSamples"]

    def scraped_twice() -> bool:
        try:
            result = http_json(f"{url}/api/v1/query", {"query": 'count_over_time(up{job="loki"}[1m])'})
        except (urllib.error.URLError, ConnectionError):
            return False
        return any(float(r["value"][1]) >= 2 for r in result["data"]["result"])

    poll("Prometheus to scrape Loki", scraped_twice, timeout=60)
    assert discarded(probe_loki) == {} and alerts() == []
    now = datetime.now(UTC)
    # A stream that has an entry of now refuses one of 90 minutes ago (> max_chunk_age / 2).
    push(probe_loki, {"job": "discard-probe"}, [(now, "newest")])
    push(probe_loki, {"job": "discard-probe"}, [(now - timedelta(minutes=90), "too far behind")])
    assert discarded(probe_loki) == {"too_far_behind": 1.0}

    def firing() -> list[dict[str, Any]] | None:
        return [a for a in alerts() if a["state"] == "firing"] or None

    fired = poll("LokiDiscardedSamples to fire", firing, timeout=60)
    assert fired[0]["labels"]["reason"] == "too_far_behind" and fired[0]["labels"]["tenant"] == "fake"


def test_promtail_grpc_listens_on_loopback_only(loki: str, workdir: Path) -> None:
    """promtail.yml binds its (unused) gRPC listener to ${PROMTAIL_GRPC_ADDRESS:-127.0.0.1}."""
    text = poll("Promtail's listening addresses in its log",
                lambda: re.search(r"grpc=(\S+)", (workdir / "promtail.log").read_text()), timeout=10)
    assert text.group(1).startswith("127.0.0.1:"), text.group(0)


def test_loki_rule_queries_run_on_the_shipped_streams(loki: str, tailer: dict[str, Any]) -> None:
    """Each LogQL expression of loki/rules is accepted by the real Loki over the shipped streams."""
    _, end = events_window(tailer["events"])
    for path in sorted((ROOT / "loki" / "rules").rglob("*.yml")):
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                body = http_json(f"{loki}/loki/api/v1/query", {"query": rule["expr"], "time": str(end.timestamp())})
                assert body["status"] == "success", (rule["alert"], body)
