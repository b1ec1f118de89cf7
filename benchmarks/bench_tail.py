"""Live tailer benchmarks: sustained rate, write→event latency, memory, and the output path's cost.

    .venv/bin/python benchmarks/bench_tail.py [--lines 1000000] [--rate 1000] [--seconds 10] [--skip ...]

- throughput: a file of --lines mixed lines (benchmarks/gen_mixed.py) read from its
  beginning by an in-process Tailer writing events to a file: lines/s = the highest
  append rate it keeps up with (a live file can only be read as fast as a backlog).
  Peak RSS is sampled while it runs (in a child process, so nothing else counts).
- latency: the real `logmetrics run` (inotify watcher, --output -) follows a file
  appended at --rate lines/s for --seconds; each line carries its write time, and
  the event's arrival on the pipe is timed: p50/p99/max.
- output: events → bytes through the logging API (LogRecord + python-json-logger
  orjson formatter, per event) vs `EventOutput.write` (batch) vs plain orjson.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from logmetrics.commands.common import keep_heap  # noqa: E402
from logmetrics.parse.engine import Engine  # noqa: E402
from logmetrics.pipeline import Pipeline  # noqa: E402
from logmetrics.sinks.jsonlines import EventOutput  # noqa: E402
from logmetrics.sources.tail import Tailer  # noqa: E402


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def throughput_child(src: str, out: str) -> None:
    """Runs in a fresh interpreter: read `src` to its end, print JSON figures."""
    engine = Engine()
    sink = EventOutput(out)
    tailer = Tailer(engine, [src], Pipeline([sink]), start_at="beginning")
    samples: list[tuple[int, float]] = []
    t0 = time.perf_counter()
    next_sample = 0
    while True:
        more = tailer.step(discover=False)
        if engine.stats.lines >= next_sample:
            samples.append((engine.stats.lines, rss_mb()))
            next_sample += 250_000
        if not more and tailer.stats.read_lag_bytes == 0:
            break
    dt = time.perf_counter() - t0
    tailer.close()
    # VmHWM, not ru_maxrss: the latter survives exec and would report the parent's peak.
    with open("/proc/self/status") as f:
        peak = next(int(x.split()[1]) for x in f if x.startswith("VmHWM:")) / 1e3
    print(json.dumps({"lines": engine.stats.lines, "seconds": dt, "lines_per_s": engine.stats.lines / dt,
                      "mb_per_s": engine.stats.bytes / dt / 1e6, "peak_rss_mb": peak, "rss_mb": samples}))


def bench_throughput(lines: int, tmp: Path) -> None:
    src = tmp / "mixed.log"
    print(f"generating {lines:,} lines ...", flush=True)
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gen_mixed.py"), str(src), "--lines", str(lines)],
                   check=True, stdout=subprocess.DEVNULL)
    res = subprocess.run([sys.executable, __file__, "--child", str(src), str(tmp / "events.jsonl")],
                         check=True, capture_output=True, text=True)
    r = json.loads(res.stdout)
    (tmp / "events.jsonl").unlink()
    src.unlink()
    print(f"throughput: {r['lines']:,} lines in {r['seconds']:.1f} s = {r['lines_per_s']:,.0f} lines/s "
          f"({r['mb_per_s']:.1f} MB/s)")
    print(f"memory: peak RSS {r['peak_rss_mb']:.1f} MB; RSS by lines read: "
          + ", ".join(f"{n / 1e6:.1f}M:{m:.0f}MB" for n, m in r["rss_mb"]))


def bench_latency(rate: float, seconds: float, tmp: Path) -> None:
    logs = tmp / "logs"
    logs.mkdir(exist_ok=True)
    log = logs / "app.log"
    log.touch()
    proc = subprocess.Popen([str(Path(sys.executable).with_name("logmetrics")), "run", str(log), "--output", "-",
                             "--listen", "", "--start-at", "end"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert proc.stdout is not None
    time.sleep(1.0)  # let it start: the first lines must not race its discovery
    arrivals: dict[int, float] = {}

    def reader() -> None:
        assert proc.stdout is not None
        for raw in proc.stdout:
            now = time.time()
            line = orjson.loads(raw)["line"]
            if line.startswith("lat "):
                arrivals[int(line.split()[1])] = now

    th = threading.Thread(target=reader, daemon=True)
    th.start()
    sent: dict[int, float] = {}
    n = int(rate * seconds)
    t0 = time.monotonic()
    with open(log, "a") as f:
        for i in range(n):
            target = t0 + i / rate
            delay = target - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            sent[i] = time.time()
            f.write(f"lat {i} time=2026-11-03T00:00:00.000Z level=INFO msg=\"latency probe\"\n")
            f.flush()
    deadline = time.monotonic() + 5
    while len(arrivals) < n and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.terminate()
    proc.wait(timeout=5)
    lat = sorted((arrivals[i] - sent[i]) * 1000 for i in arrivals)
    if not lat:
        print("latency: no events arrived")
        return

    def pct(p: float) -> float:
        return lat[min(len(lat) - 1, int(p * len(lat)))]

    print(f"latency at {rate:.0f} lines/s for {seconds:.0f} s: {len(lat)}/{n} events, "
          f"p50 {pct(0.5):.1f} ms, p99 {pct(0.99):.1f} ms, max {lat[-1]:.1f} ms")


def bench_output(tmp: Path, lines: int = 200_000) -> None:
    src = tmp / "out-src.log"
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gen_mixed.py"), str(src), "--lines", str(lines)],
                   check=True, stdout=subprocess.DEVNULL)
    events = Engine().parse_lines(src.read_bytes().splitlines(), str(src))
    src.unlink()
    handler = EventOutput(os.devnull)
    logger = logging.getLogger("bench.output")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    figures = {}
    for name in ("logging API, per event", "EventOutput.write", "plain orjson.dumps"):
        best = float("inf")
        for _ in range(3):
            t = time.perf_counter()
            if name.startswith("logging"):
                for e in events:
                    logger.info(e)
            elif name.startswith("EventOutput"):
                for i in range(0, len(events), 2000):
                    handler.write(events[i:i + 2000])
            else:
                with open(os.devnull, "wb") as f:
                    for i in range(0, len(events), 2000):
                        f.write(b"".join([orjson.dumps(e, option=orjson.OPT_APPEND_NEWLINE)
                                          for e in events[i:i + 2000]]))
            best = min(best, time.perf_counter() - t)
        figures[name] = best / len(events) * 1e6
    handler.close()
    for name, us in figures.items():
        print(f"output: {name}: {us:.2f} µs/event")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lines", type=int, default=1_000_000, help="lines for the throughput/memory run")
    ap.add_argument("--rate", type=float, default=1000.0, help="append rate for the latency run (lines/s)")
    ap.add_argument("--seconds", type=float, default=10.0, help="duration of the latency run")
    ap.add_argument("--skip", nargs="*", default=[], choices=["throughput", "latency", "output"])
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    keep_heap(16 << 20)  # as `logmetrics run` does
    args = ap.parse_args()
    if args.child:
        throughput_child(*args.child)
        return
    with tempfile.TemporaryDirectory(prefix="bench-tail-") as d:
        tmp = Path(d)
        if "output" not in args.skip:
            bench_output(tmp)
        if "latency" not in args.skip:
            bench_latency(args.rate, args.seconds, tmp)
        if "throughput" not in args.skip:
            bench_throughput(args.lines, tmp)


if __name__ == "__main__":
    main()
