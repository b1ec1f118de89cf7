"""The live demo writer, driven by a fake clock so no test waits."""

from __future__ import annotations

import re
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from logmetrics.demo import FILES, phase_at, run_demo
from logmetrics.parse.conversions import format_go_duration as go_duration

START = datetime(2026, 11, 3, 9, 0, tzinfo=UTC).timestamp()


class FakeTime:
    """A clock that only moves when the demo sleeps; stops the demo after ``limit`` sleeps."""

    def __init__(self, limit: int) -> None:
        self.now = START
        self.sleeps = 0
        self.limit = limit
        self.stop = threading.Event()

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds > 0
        self.now += seconds
        self.sleeps += 1
        if self.sleeps >= self.limit:
            self.stop.set()


STAMPS: list[tuple[re.Pattern[str], str, float]] = [
    (re.compile(r"time=(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3})Z"), "%Y-%m-%dT%H:%M:%S.%f", 0.001),
    (re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3})Z"), "%Y-%m-%dT%H:%M:%S.%f", 0.001),
    (re.compile(r"^\[GIN\] (\d{4}/\d\d/\d\d - \d\d:\d\d:\d\d)"), "%Y/%m/%d - %H:%M:%S", 1.0),
    (re.compile(r"\[(\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d) \+0000\]"), "%d/%b/%Y:%H:%M:%S", 1.0),
    (re.compile(r"^(\d{4}/\d\d/\d\d \d\d:\d\d:\d\d) \["), "%Y/%m/%d %H:%M:%S", 1.0),
    (re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}) \|"), "%Y-%m-%d %H:%M:%S.%f", 0.001),
]


def _stamp(line: str) -> tuple[float, float] | None:
    for pattern, fmt, precision in STAMPS:
        found = pattern.search(line)
        if found:
            return datetime.strptime(found.group(1), fmt).replace(tzinfo=UTC).timestamp(), precision
    return None


def _run(tmp_path: Path, limit: int, rate: float, seed: int = 0) -> tuple[FakeTime, list[float]]:
    fake = FakeTime(limit)
    seen: list[float] = []
    original = fake.sleep

    def sleep(seconds: float) -> None:
        seen.append(fake.now)  # every line written before this sleep carries a time <= now
        original(seconds)

    run_demo(tmp_path, rate=rate, stop=fake.stop, clock=fake.clock, sleep=sleep, seed=seed)
    return fake, seen


def test_files_exist_and_every_stamp_is_a_clock_reading(tmp_path: Path) -> None:
    fake, readings = _run(tmp_path, limit=400, rate=5.0)
    # the clock only takes values START and the times it was slept forward to
    moments = {START, *readings, fake.now}
    total = 0
    for rel in FILES.values():
        path = tmp_path / rel
        assert path.is_file(), rel
        for line in path.read_text().splitlines():
            total += 1
            found = _stamp(line)
            if found is None:
                continue
            stamp, precision = found
            assert any(0 <= moment - stamp < precision + 1e-6 for moment in moments), (rel, line)
    assert total > 300


def test_rate_is_roughly_respected(tmp_path: Path) -> None:
    fake, _ = _run(tmp_path, limit=300, rate=10.0)
    lines = sum(len((tmp_path / rel).read_text().splitlines()) for rel in FILES.values())
    elapsed = fake.now - START
    assert 8.0 <= lines / elapsed <= 12.0


def test_all_phases_show_up_within_one_cycle(tmp_path: Path) -> None:
    _run(tmp_path, limit=2000, rate=10.0)  # > 300 s of fake time at 10 lines/s
    server = (tmp_path / "ollama/server.log").read_text()
    deepchat = (tmp_path / "deepchat/main.log").read_text()
    access = (tmp_path / "nginx/access.log").read_text()
    assert re.search(r"\| 200 \| +\d+(\.\d+)?(µs|ms|s) \|", server)  # normal
    assert re.search(r"\| 200 \| +\dm\d+(\.\d+)?s \|", server)  # slow: minutes
    assert 'error="context deadline exceeded"' in deepchat  # timeouts
    assert '" 499 0 "' in access
    assert re.search(r"\| 500 \| +5m\d+s \|", server)
    assert server.count("llama runner started in") >= 2  # big model + recovery reload


def test_appends_rather_than_truncates(tmp_path: Path) -> None:
    _run(tmp_path, limit=50, rate=5.0)
    first = (tmp_path / "ollama/server.log").read_text()
    _run(tmp_path, limit=50, rate=5.0, seed=1)
    assert (tmp_path / "ollama/server.log").read_text().startswith(first)


def test_phase_cycle() -> None:
    assert phase_at(0) == ("normal", 0.0)
    assert phase_at(150)[0] == "slow"
    assert phase_at(240)[0] == "timeouts"
    assert phase_at(290)[0] == "recovery"
    assert phase_at(300) == ("normal", 0.0)


@pytest.mark.parametrize(
    ("ns", "text"),
    [
        (0, "0s"),
        (812, "812ns"),
        (178_535, "178.535µs"),
        (720_998_800, "720.9988ms"),
        (4_709_180_529, "4.709180529s"),
        (70_000_000_000, "1m10s"),
        (1_799_000_000_000, "29m59s"),
        (3_723_000_000_000, "1h2m3s"),
        (300_000_000_000, "5m0s"),
    ],
)
def test_go_duration_matches_go(ns: int, text: str) -> None:
    assert go_duration(ns) == text


def test_rejects_non_positive_rate(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        run_demo(tmp_path, rate=0)
