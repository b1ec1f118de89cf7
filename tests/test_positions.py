"""The positions file: round trip, atomic replacement, and refusing (not crashing on) a bad file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from logmetrics.sources.positions import (
    FINGERPRINT_BYTES,
    Position,
    PositionsError,
    fingerprint,
    load_positions,
    save_positions,
)


def test_round_trip(tmp_path: Path) -> None:
    ps = [Position("a.log", 1, 2, "ab" * 16, 256, 1234), Position("b.log", 1, 3, "cd" * 16, 10, 10, skip=True)]
    save_positions(tmp_path / "p.json", ps)
    assert load_positions(tmp_path / "p.json") == ps
    assert sorted(os.listdir(tmp_path)) == ["p.json"], "no temp file left behind"


def test_missing_file_is_a_fresh_start(tmp_path: Path) -> None:
    assert load_positions(tmp_path / "none.json") == []


@pytest.mark.parametrize("content", [
    b"",
    b"\x00\x00\x00",
    b'{"version": 1, "files": [{"path": "a", "dev": 1',
    b'{"version": 2, "files": []}',
    b"[1, 2]",
    b'{"version": 1, "files": [{"path": "a"}]}',
    b'{"version": 1, "files": [{"path": "a", "dev": 1, "ino": 2, "fp": "x", "fp_len": 1, "offset": -5}]}',
    b'{"version": 1, "files": [{"path": "a", "dev": 1, "ino": 2, "fp": "x", "fp_len": 9999, "offset": 5}]}',
])
def test_corrupt_file_is_an_error_naming_it(tmp_path: Path, content: bytes) -> None:
    p = tmp_path / "p.json"
    p.write_bytes(content)
    with pytest.raises(PositionsError, match=r"p\.json"):
        load_positions(p)


def test_replacing_keeps_old_content_until_rename(tmp_path: Path) -> None:
    p = tmp_path / "p.json"
    save_positions(p, [Position("a", 1, 2, "00", 1, 5)])
    ino = p.stat().st_ino
    save_positions(p, [Position("a", 1, 2, "00", 1, 9)])
    assert p.stat().st_ino != ino, "a new file renamed over the old one, never rewritten in place"
    assert load_positions(p)[0].offset == 9


def test_fingerprint_covers_at_most_the_first_bytes(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.write_bytes(b"x" * FINGERPRINT_BYTES + b"tail one")
    b.write_bytes(b"x" * FINGERPRINT_BYTES + b"tail two, longer")
    fa, fb = os.open(a, os.O_RDONLY), os.open(b, os.O_RDONLY)
    try:
        assert fingerprint(fa, a.stat().st_size) == fingerprint(fb, b.stat().st_size)
        assert fingerprint(fa, 10)[1] == 10
        assert fingerprint(fa, 10) != fingerprint(fa, 11)
    finally:
        os.close(fa)
        os.close(fb)
