"""Engine throughput: lines → event dicts, no output, one core.

    python benchmarks/bench_engine.py [--lines 1000000] [--file bench-data/mixed-1m.log]

Generates the deterministic mixed log if it is missing, then times three passes
over it: reading alone (the floor), reading + the engine, and the engine's events
validated by pydantic (what the fast path saves). Prints lines/s and peak RSS.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time
from pathlib import Path

from logmetrics.commands.common import keep_heap
from logmetrics.core.events import validate_event
from logmetrics.core.stats import Stats
from logmetrics.parse.engine import Engine
from logmetrics.sources.files import open_log
from logmetrics.sources.framing import Framer, read_batches

ROOT = Path(__file__).resolve().parent.parent


def ensure_file(path: Path, lines: int) -> None:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gen_mixed.py"), str(path), "--lines", str(lines),
                        "--seed", "1"], check=True, stdout=subprocess.DEVNULL)


def timed(label: str, path: Path, per_batch: str) -> float:
    engine = Engine()
    stream = engine.stream(str(path))
    stats = Stats()
    n = 0
    t0 = time.perf_counter()
    with open_log(path) as f:
        for batch in read_batches(f, Framer(stats)):
            n += len(batch)
            if per_batch == "engine":
                stream.feed(batch)
            elif per_batch == "validated":
                for ev in stream.feed(batch):
                    validate_event(ev)
    dt = time.perf_counter() - t0
    print(f"{label:<34} {n / dt:>12,.0f} lines/s   {dt:6.2f} s   ({n:,} lines)")
    return n / dt


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--file", type=Path, default=None)
    ap.add_argument("--validated", action="store_true", help="also time pydantic validation of every event")
    a = ap.parse_args()
    keep_heap()  # as the CLI does
    path = a.file or ROOT / "bench-data" / f"mixed-{a.lines}.log"
    ensure_file(path, a.lines)
    timed("read only", path, "read")
    timed("engine (lines -> event dicts)", path, "engine")
    if a.validated:
        timed("engine + pydantic validation", path, "validated")
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {rss_mb:.0f} MB")


if __name__ == "__main__":
    main()
