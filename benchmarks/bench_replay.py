"""Replay throughput and memory, side by side with mtail on the same 1M-line file.

    .venv/bin/python benchmarks/bench_replay.py [--lines 1000000] [--runs 3] [--file F] [--jobs N]

Generates `bench-data/mixed-<lines>.log` with `benchmarks/gen_mixed.py` when it is
missing, then times, `--runs` times each:

- `logmetrics replay FILE --format prom --no-progress > /dev/null` (what the metrics cost),
- `logmetrics replay FILE --format events --no-progress > /dev/null` (engine + JSON, for reference),
- `mtail --one_shot --one_shot_format prometheus --progs benchmarks/mtail --logs FILE` (if installed),

and prints medians as lines/s, the ratio to mtail, and each tool's peak RSS
(max over runs, from `wait4`'s rusage of that child alone). Targets: ≥ 250k lines/s
single process, ≤ 100 MB peak RSS. A benchmark, not a test: numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOGMETRICS = str(Path(sys.executable).with_name("logmetrics"))


def _ensure_input(lines: int, path: Path | None) -> Path:
    if path is not None:
        return path
    out = ROOT / "bench-data" / f"mixed-{lines}.log"
    if not out.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
        print(f"generating {out} ...", file=sys.stderr)
        subprocess.run([sys.executable, str(ROOT / "benchmarks/gen_mixed.py"), str(out), "--lines", str(lines),
                        "--seed", "1"], check=True, stdout=subprocess.DEVNULL)
    return out


def _run(cmd: list[str]) -> tuple[float, int]:
    """Wall seconds and peak RSS (bytes) of one child, stdout/stderr discarded."""
    with open(os.devnull, "wb") as null:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=null, stderr=null, cwd=ROOT)
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"failed ({proc.returncode}): {' '.join(cmd)}")
    return elapsed, usage.ru_maxrss * 1024  # Linux: KiB


def _count_lines(path: Path) -> int:
    n = 0
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            n += chunk.count(b"\n")
    return n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--file", type=Path, default=None, help="use this log instead of the generated one")
    ap.add_argument("--jobs", type=int, default=None, help="logmetrics worker processes (default: one per core)")
    args = ap.parse_args()
    jobs = ["--jobs", str(args.jobs)] if args.jobs else []
    path = _ensure_input(args.lines, args.file)
    n = _count_lines(path)
    tools: dict[str, list[str]] = {
        "logmetrics prom": [LOGMETRICS, "replay", str(path), "--format", "prom", "--no-progress", *jobs],
        "logmetrics events": [LOGMETRICS, "replay", str(path), "--format", "events", "--no-progress", *jobs],
    }
    mtail = shutil.which("mtail")
    if mtail:
        tools["mtail"] = [mtail, "--one_shot", "--one_shot_format", "prometheus", "--logtostderr",
                          "--progs", str(ROOT / "benchmarks/mtail"), "--logs", str(path)]
    else:
        print("mtail not installed: logmetrics only", file=sys.stderr)
    results: dict[str, tuple[float, int]] = {}
    for name, cmd in tools.items():
        times: list[float] = []
        peak = 0
        for _ in range(args.runs):
            t, rss = _run(cmd)
            times.append(t)
            peak = max(peak, rss)
        results[name] = (statistics.median(times), peak)
    print(f"input: {path} ({n:,} lines, {path.stat().st_size / 1e6:.1f} MB), median of {args.runs} runs, "
          f"logmetrics {'--jobs ' + str(args.jobs) if args.jobs else 'on every core'}")
    print(f"{'tool':<20} {'seconds':>8} {'lines/s':>12} {'peak RSS':>10}")
    for name, (t, peak) in results.items():
        print(f"{name:<20} {t:>8.2f} {n / t:>12,.0f} {peak / 2**20:>7.1f} MiB")
    if "mtail" in results:
        ratio = results["mtail"][0] / results["logmetrics prom"][0]
        print(f"logmetrics prom vs mtail: {ratio:.2f}x the throughput")
    t, peak = results["logmetrics prom"]
    print(f"targets: >= 250,000 lines/s -> {'met' if n / t >= 250_000 else 'NOT met'}; "
          f"<= 100 MB peak RSS -> {'met' if peak <= 100e6 else 'NOT met'}")


if __name__ == "__main__":
    main()
