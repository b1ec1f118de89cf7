"""Parallel replay equals single-process replay, byte for byte, in every format."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest

from logmetrics.offline.parallel import plan_units
from logmetrics.parse.envelopes import wrap_cri
from tests.conftest import ROOT, run_cli

FORMATS = ["events", "json", "prom", "table"]


def seam_file(path: Path, n: int = 6000) -> None:
    """One file mixing apps, with tracebacks, panics, CRI partials and long unrecognised stretches,
    so chunk seams land inside records and warm-ups guess wrong."""
    rnd = random.Random(7)
    out: list[str] = []
    for i in range(n):
        ts = f"2026-11-03T10:{(i // 60) % 60:02d}:{i % 60:02d}"
        r = rnd.random()
        if r < 0.3:
            out.append(f'[GIN] 2026/11/03 - 10:{(i // 60) % 60:02d}:{i % 60:02d} | {rnd.choice([200, 500, 499])} | '
                       f'{rnd.randint(1, 90000)}ms | 10.0.0.{i % 9} | POST "/api/chat?x={i}"')
        elif r < 0.45:
            out.append(f'time={ts}.{i % 1000:03d}Z level=INFO source=a.go:1 msg="step {i}"')
        elif r < 0.5:
            out.append(f'{ts}.000Z level=info msg="chat completion" status=200 duration={i}.5ms')
        elif r < 0.53:
            out += ["Traceback (most recent call last):"] + [f'  File "x{j}.py", line {j}, in f' for j in
                                                              range(rnd.randint(1, 40))] + ["ValueError: boom"]
        elif r < 0.55:
            out += ["panic: runtime error", "", "goroutine 1 [running]:"] + ["main.f()", "\t/x.go:1 +0x1"] * 5
        elif r < 0.58:
            out += [wrap_cri("[GIN] 2026/11/03 - 10:00:00 | 200 |", partial=True),
                    wrap_cri('  1s | 1.2.3.4 | GET "/api/tags"')]
        elif r < 0.59:
            out += [f"noise line {i} {'x' * 200}"] * 400  # > 64 KiB of nothing recognisable
        else:
            out.append(f"llama_print_timings: eval time = {i}.00 ms / {i % 50 + 1} runs")
    path.write_text("\n".join(out) + "\n")


@pytest.fixture(scope="module")
def seam_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("par") / "mixed.log"
    seam_file(path)
    return path


def replay(args: list[str], jobs: int, tmp: Path, split: int) -> bytes:
    cfg = tmp / f"c{split}.toml"
    cfg.write_text(f"replay_split_bytes = {split}\nreplay_parallel_min_bytes = 0\n")
    proc = run_cli("replay", *args, "--jobs", str(jobs), "--config", str(cfg), "--no-progress", cwd=ROOT)
    assert proc.returncode == 0, proc.stderr.decode()
    # The read time (lines before any time in a file) is the one wall-clock value: not compared.
    return re.sub(rb'"ts":"[^"]*"(,"app":[^}]*"ts_source":"read")', rb'"ts":"<read>"\1', proc.stdout)


@pytest.mark.parametrize("fmt", FORMATS)
def test_one_file_in_many_chunks_equals_one_process(fmt: str, seam_log: Path, tmp_path: Path) -> None:
    size = seam_log.stat().st_size
    assert len(plan_units([seam_log], 8, 10_000)) == 16 and size > 16 * 10_000
    single = replay([str(seam_log), "--format", fmt], 1, tmp_path, 10_000)
    parallel = replay([str(seam_log), "--format", fmt], 8, tmp_path, 10_000)
    assert parallel == single


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_folder_of_files_equals_one_process(fmt: str, tmp_path: Path) -> None:
    single = replay(["samples", "--format", fmt], 1, tmp_path, 1 << 30)
    parallel = replay(["samples", "--format", fmt], 2, tmp_path, 4_000)
    assert parallel == single


def test_emit_and_filters_in_parallel(seam_log: Path, tmp_path: Path) -> None:
    args = [str(seam_log), "--format", "json", "--app", "ollama", "--since", "2026-11-03T10:10:00Z"]
    single = replay([*args, "--emit", str(tmp_path / "a.jsonl")], 1, tmp_path, 10_000)
    parallel = replay([*args, "--emit", str(tmp_path / "b.jsonl")], 4, tmp_path, 10_000)
    assert parallel == single
    assert (tmp_path / "a.jsonl").read_bytes() == (tmp_path / "b.jsonl").read_bytes()


def test_events_file_copy_in_the_kernel_and_through_a_buffer(tmp_path: Path) -> None:
    """A worker's events reach a real file descriptor by sendfile, anything else by a buffer; both whole."""
    import io

    from logmetrics.offline.parallel import _copy

    data = b"".join(b'{"n":%d}\n' % i for i in range(200_000))
    src = tmp_path / "unit.jsonl"
    src.write_bytes(data)
    with open(tmp_path / "out.jsonl", "wb") as out, open(src, "rb") as f:
        out.write(b"head\n")  # buffered bytes written before the copy must stay in front
        _copy(f, out)
    assert (tmp_path / "out.jsonl").read_bytes() == b"head\n" + data
    buf = io.BytesIO()
    with open(src, "rb") as f:
        _copy(f, buf)
    assert buf.getvalue() == data


def _dense_records(path: Path, pad: int) -> list[tuple[int, int]]:
    """A log where two thirds of the bytes are inside tracebacks; returns their byte spans."""
    lines: list[str] = []
    spans: list[tuple[int, int]] = []
    size = 0
    for i in range(-pad, 3000):
        if i % 30 == 29:  # after a line with a time: the record inherits it (no read time to differ)
            start = size
            record = ["Traceback (most recent call last):"] + [f'  File "/srv/app/{"m" * 60}{j}.py", line {j}, in run'
                                                              for j in range(40)] + [f"RuntimeError: {i}"]
            lines += record
            size += sum(len(x) + 1 for x in record)
            spans.append((start, size))
        line = f'[GIN] 2026/11/03 - 10:{(i // 60) % 60:02d}:{i % 60:02d} | 200 | {i % 97}ms | 10.0.0.1 | GET "/x"'
        lines.append(line)
        size += len(line) + 1
    path.write_text("\n".join(lines) + "\n")
    assert path.stat().st_size == size
    return spans


def test_records_across_seams_after_long_chunk_bodies(tmp_path: Path) -> None:
    """Chunks longer than their head: a traceback that starts in a chunk's body and ends in the next
    chunk must be one event, as in one process (the end-of-chunk check once saw a stale state)."""
    inside = 0
    for pad in (0, 9, 17, 23):
        log = tmp_path / f"dense{pad}.log"
        spans = _dense_records(log, pad)
        units = plan_units([log], 2, 100_000)
        assert len(units) == 4
        inside += sum(any(a < u.start < b for a, b in spans) for u in units)
        single = replay([str(log), "--format", "events"], 1, tmp_path, 100_000)
        parallel = replay([str(log), "--format", "events"], 2, tmp_path, 100_000)
        assert parallel == single, pad
    assert inside >= 3  # the seams do land inside records
