"""Write a large, deterministic, mixed Ollama-style log for throughput benchmarks.

    python benchmarks/gen_mixed.py OUT --lines 1000000 [--seed 1]

Mix: ~40% GIN access, ~35% slog (some model loads and runner-start timeouts),
~15% DeepChat logfmt requests, ~5% llama.cpp timings, ~5% noise.  Lines are
glued from precomputed pieces (per-second timestamp prefixes + pooled bodies
built with ``logmetrics.demo``'s formatters) so a million lines take seconds,
and the same seed gives byte-identical output.  The per-kind counts printed at
the end are what a correct parser (or the mtail program next door) must find.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from logmetrics.demo import (
    NS,
    gin_line,
    llama_print_timings,
    llm_load_print_meta,
    logfmt_line,
    server_timings,
    slog_line,
)

EPOCH = datetime(2026, 11, 3, tzinfo=UTC)
POOL = 2048
KINDS = ("gin", "slog", "deepchat", "timing", "noise")
WEIGHTS = (40, 35, 15, 5, 5)
GIN_PREFIX = len("[GIN] 2026/11/03 - 00:00:00")
SLOG_PREFIX = len("time=2026-11-03T00:00:00.000Z")
LOGFMT_PREFIX = len("2026-11-03T00:00:00.000Z")

ROUTES = (
    ("POST", "/api/chat", 30),
    ("POST", "/api/generate", 12),
    ("GET", "/api/tags", 20),
    ("GET", "/api/version", 12),
    ("HEAD", "/", 6),
    ("POST", "/api/embed", 10),
    ("GET", "/api/ps", 6),
    ("POST", "/v1/chat/completions", 3),
    ("POST", "/api/show?name=llama3%3A8b", 1),
)
CLIENTS = ("127.0.0.1", "172.18.0.5", "172.18.0.1", "10.0.4.23", "192.168.1.14")


def _duration_ns(rng: random.Random, path: str) -> int:
    """Log-uniform from microseconds (polling) to half an hour (stuck chats)."""
    if path in ("/api/chat", "/api/generate", "/v1/chat/completions"):
        roll = rng.random()
        if roll < 0.01:
            return rng.randint(30 * 60, 2 * 3600) * NS  # 30m..2h: `1h2m3s` forms
        if roll < 0.06:
            return int(rng.uniform(60, 1800) * NS)
        return int(10 ** rng.uniform(8.5, 10.9))  # ~0.3 s .. ~80 s
    return int(10 ** rng.uniform(3.5, 8.3))  # ~3 µs .. ~200 ms


def gin_bodies(rng: random.Random) -> list[tuple[str, str]]:
    """(body after the timestamp, status) pairs."""
    dummy = EPOCH
    routes = [(m, p) for m, p, w in ROUTES for _ in range(w)]
    out = []
    for _ in range(POOL):
        method, path = rng.choice(routes)
        status = rng.choices((200, 404, 499, 500), (90, 3, 4, 3))[0]
        line = gin_line(dummy, status, _duration_ns(rng, path), rng.choice(CLIENTS), method, path)
        out.append((line[GIN_PREFIX:], str(status)))
    return out


def slog_bodies(rng: random.Random) -> list[tuple[str, str]]:
    """(body after ``time=…Z``, category) with categories load/timeout/error/warn/info/debug."""
    dummy = EPOCH
    out = []
    for _ in range(POOL):
        roll = rng.random()
        if roll < 0.04:
            text = slog_line(
                dummy, "INFO", "server.go:626", f"llama runner started in {rng.uniform(1.5, 90):.2f} seconds"
            )
            cat = "load"
        elif roll < 0.06:
            text = slog_line(
                dummy,
                "ERROR",
                "sched.go:455",
                "error loading llama server",
                error=f"timed out waiting for llama runner to start - progress {rng.random():.2f} - ",
            )
            cat = "timeout"
        elif roll < 0.09:
            text = slog_line(
                dummy,
                "ERROR",
                "sched.go:455",
                "error loading llama server",
                error="llama runner process has terminated: exit status 2",
            )
            cat = "error"
        elif roll < 0.20:
            text = slog_line(
                dummy,
                "WARN",
                "types.go:512",
                "invalid option provided",
                option=rng.choice(["tfs_z", "penalize_newline", "mirostat"]),
            )
            cat = "warn"
        elif roll < 0.35:
            text = slog_line(
                dummy,
                "DEBUG",
                "sched.go:575",
                "evaluating already loaded",
                model=f"/root/.ollama/models/blobs/sha256-{rng.getrandbits(256):064x}",
            )
            cat = "debug"
        else:
            text = slog_line(
                dummy,
                "INFO",
                rng.choice(["server.go:587", "sched.go:449", "images.go:754"]),
                rng.choice(
                    ["waiting for llama runner to start responding", "loaded runners", "total blobs: 14"]
                ),
                count=rng.randint(1, 4),
            )
            cat = "info"
        out.append((text[SLOG_PREFIX:], cat))
    return out


def deepchat_bodies(rng: random.Random) -> list[tuple[str, str]]:
    dummy = EPOCH
    out = []
    for _ in range(POOL):
        roll = rng.random()
        if roll < 0.06:
            text = logfmt_line(
                dummy,
                "error",
                "Failed to stream response from Ollama",
                model="llama3:8b",
                error="context deadline exceeded",
            )
            cat = "timeout"
        else:
            status = rng.choices((200, 400, 500), (95, 2, 3))[0]
            ms = 10 ** rng.uniform(1.5, 5.6)
            level = "error" if status >= 500 else "warn" if status >= 400 else "info"
            text = logfmt_line(
                dummy, level, "chat completion", model="llama3:8b", status=status, duration=f"{ms:.2f}ms"
            )
            cat = f"request:{status}"
        out.append((text[LOGFMT_PREFIX:], cat))
    return out


def timing_lines(rng: random.Random) -> list[str]:
    out: list[str] = []
    while len(out) < POOL:
        prompt_n, eval_n = rng.randint(10, 900), rng.randint(20, 800)
        prompt_ms, eval_ms = round(rng.uniform(50, 5000), 2), round(rng.uniform(500, 60000), 2)
        if rng.random() < 0.5:
            out += llama_print_timings(
                round(rng.uniform(900, 20000), 2), prompt_ms, prompt_n, eval_ms, eval_n
            )
        else:
            out += server_timings(rng.randint(1, 999), prompt_ms, prompt_n, eval_ms, eval_n, prefixed=True)
    return out[:POOL]


def noise_lines(rng: random.Random) -> list[str]:
    free = [
        "llama server listening at http://127.0.0.1:41923",
        "ggml_cuda_init: found 1 CUDA devices:",
        "  Device 0: NVIDIA L4, compute capability 8.9, VMM: yes",
        "llama_new_context_with_model: n_ctx      = 8192",
        "llm_load_tensors: offloaded 33/33 layers to GPU",
        "panic: runtime error: invalid memory address or nil pointer dereference",
    ]
    pool = free + llm_load_print_meta("llama3:8b") + llm_load_print_meta("qwen2.5:32b")
    return [rng.choice(pool) for _ in range(POOL)]


def generate(out: Path, lines: int, seed: int) -> dict[str, object]:
    rng = random.Random(seed)
    gin, slog, deepchat = gin_bodies(rng), slog_bodies(rng), deepchat_bodies(rng)
    timings, noise = timing_lines(rng), noise_lines(rng)
    counts: dict[str, int] = {}
    written = 0
    second = -1
    gin_ts = slog_ts = logfmt_ts = ""
    chunk: list[str] = []
    kinds = rng.choices(range(len(KINDS)), WEIGHTS, k=lines)
    picks = [rng.randrange(POOL) for _ in range(lines)]
    with out.open("wb") as handle:
        for i in range(lines):
            sec = i // 12  # ~12 lines per second of simulated time
            if sec != second:
                second = sec
                now = EPOCH + timedelta(seconds=sec)
                gin_ts = now.strftime("[GIN] %Y/%m/%d - %H:%M:%S")
                day = now.strftime("%Y-%m-%dT%H:%M:%S.")
                slog_ts, logfmt_ts = "time=" + day, day
            kind, pick = kinds[i], picks[i]
            ms = f"{(i % 12) * 83:03d}Z"
            if kind == 0:
                body, tag = gin[pick]
                line = gin_ts + body
                key = "gin:" + tag
            elif kind == 1:
                body, tag = slog[pick]
                line = slog_ts + ms + body
                key = "slog:" + tag
            elif kind == 2:
                body, tag = deepchat[pick]
                line = logfmt_ts + ms + body
                key = "deepchat:" + tag
            elif kind == 3:
                line = timings[pick]
                key = "timing"
            else:
                line = noise[pick]
                key = "noise"
            counts[key] = counts.get(key, 0) + 1
            chunk.append(line)
            if len(chunk) >= 65536:
                data = ("\n".join(chunk) + "\n").encode()
                handle.write(data)
                written += len(data)
                chunk.clear()
        if chunk:
            data = ("\n".join(chunk) + "\n").encode()
            handle.write(data)
            written += len(data)
    return {"lines": lines, "bytes": written, "counts": dict(sorted(counts.items()))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("out", type=Path)
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    if args.lines < 0:
        parser.error("--lines must be >= 0")
    summary = generate(args.out, args.lines, args.seed)
    print(f"wrote {summary['lines']} lines, {summary['bytes']} bytes to {args.out}")
    print(json.dumps(summary["counts"], indent=1))


if __name__ == "__main__":
    main()
