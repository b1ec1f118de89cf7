"""Envelopes: recognised from content, peeled without changing the app's own text."""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from logmetrics.parse.envelopes import strip_ansi, unwrap, wrap_compose, wrap_cri, wrap_docker, wrap_journald

# App text: anything printable on one line (a runtime splits on newlines before it wraps).
app_text = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\n\r"), max_size=300)


def peeled(line: str) -> str:
    env = unwrap(line)
    return env.text if env is not None else line


def no_runtime_envelope(text: str) -> bool:
    env = unwrap(text)
    return env is None or env.kind in ("journald", "compose", "prefix")


@given(app_text)
def test_docker_json_file_round_trip(text: str) -> None:
    assume(no_runtime_envelope(text))
    env = unwrap(wrap_docker(text, stream="stderr"))
    assert env is not None and env.stream == "stderr" and env.ts == "2026-11-03T09:58:58.123Z"
    assert peeled(wrap_docker(text)) == peeled(text)


@given(app_text)
def test_cri_round_trip(text: str) -> None:
    assume(no_runtime_envelope(text))
    env = unwrap(wrap_cri(text))
    assert env is not None and env.stream == "stdout" and not env.partial
    assert peeled(wrap_cri(text)) == peeled(text)


@given(app_text)
def test_journald_round_trip(text: str) -> None:
    assume(unwrap(text) is None or unwrap(text).kind == "compose")  # type: ignore[union-attr]
    env = unwrap(wrap_journald(text))
    inner = unwrap(text)
    assert env is not None and env.host == "gpu-box"
    assert env.app_hint == (inner.app_hint if inner is not None else "ollama")  # the innermost name wins
    assert peeled(wrap_journald(text)) == peeled(text)


@given(app_text)
def test_compose_round_trip(text: str) -> None:
    env = unwrap(wrap_compose(text, service="llm-api-ollama"))
    assert env is not None and env.text == text and env.container == "llm-api-ollama"


@given(app_text)
def test_unwrap_never_raises_and_never_grows_text(text: str) -> None:
    env = unwrap(text)
    assert env is None or len(env.text) <= len(text)


def test_cri_partial_and_offset_timestamps() -> None:
    env = unwrap("2021-08-04T21:35:34.052786076+02:00 stderr P first half")
    assert env is not None and env.partial and env.text == "first half" and env.ts == "2021-08-04T19:35:34.052Z"
    empty = unwrap("2021-08-04T21:35:34Z stdout F")
    assert empty is not None and empty.text == ""


def test_docker_crlf_and_partial() -> None:
    env = unwrap('{"log":"hello\\r\\n","stream":"stdout","time":"2025-05-20T16:52:08.674206379Z"}')
    assert env is not None and env.text == "hello" and not env.partial
    part = unwrap('{"log":"no newline yet","stream":"stdout","time":"2025-05-20T16:52:08Z"}')
    assert part is not None and part.partial


def test_journald_forms() -> None:
    no_pid = unwrap("Dec  5 10:34:30 localhost ollama: time=2024-12-05T10:34:30.066+08:00 level=WARN")
    assert no_pid is not None and no_pid.text.startswith("time=") and no_pid.host == "localhost"
    no_host = unwrap("Feb 28 01:25:01  ollama[1794]: [GIN] 2025/02/28 - 01:25:01 | 499 |")
    assert no_host is not None and no_host.text.startswith("[GIN]") and no_host.host is None
    iso = unwrap("2024-12-11T09:58:58+0000 gpu-box ollama[1543]: hello")
    assert iso is not None and iso.text == "hello"


def test_lines_that_look_alike_are_left_alone() -> None:
    for line in [
        "2025-09-14 16:29:50.337 | INFO     | open_webui.main:lifespan:541 - Installing",  # loguru, not compose
        '[GIN] 2024/12/11 - 09:58:58 | 500 |       29m59s |      172.18.0.5 | POST     "/api/chat"',
        "2024-05-20T08:15:22.123Z level=info msg=\"chat completion\"",  # not journald
        "2.10.534.972 slot print_timing: id  0 | task 103",  # a stamp-like number, no level letter
    ]:
        assert unwrap(line) is None, line


def test_llama_cpp_logger_prefix_is_peeled_with_its_level() -> None:
    """common/log.cpp since 2025: `[PID] ` optional, then `M.SS.mmm.uuu` since start and a level letter."""
    env = unwrap("2.10.534.972 W slot print_timing: id  0 | task 103 | n_decoded = 1546")
    assert env is not None and env.kind == "llama-log" and env.level == "warn" and env.ts is None
    assert env.text == "slot print_timing: id  0 | task 103 | n_decoded = 1546" and env.app_hint == "llamacpp"


def test_viewer_time_prefix_only_before_a_line_with_its_own_time() -> None:
    """A viewer's stamp is peeled only when the line inside is one a parser knows (then its time wins)."""
    from logmetrics.parse.engine import Engine

    gin, other = Engine().parse_lines([
        "2025-01-19 19:47:08 [GIN] 2025/01/19 - 17:47:08 | 500 |  5.257673085s |  172.22.0.3 | POST \"/x\"",
        "2025-01-19 19:47:07 Abort was called at 63 line in file:",
    ])
    assert gin["kind"] == "request" and gin["line"].startswith("[GIN]") and gin["ts"] == "2025-01-19T17:47:08.000Z"
    assert other["line"].startswith("2025-01-19 19:47:07 Abort") and other["ts"] == "2025-01-19T19:47:07.000Z"


@given(app_text)
def test_ansi_strip_is_idempotent_and_removes_escapes(text: str) -> None:
    coloured = f"\x1b[97;42m{text}\x1b[0m"
    out = strip_ansi(coloured)
    assert strip_ansi(out) == out
    assert "\x1b[" not in out or "\x1b[" in text


@pytest.mark.parametrize(("raw", "clean"), [
    ("\x1b]0;ollama serve\x07time=2026-11-03T10:00:00Z level=INFO", "time=2026-11-03T10:00:00Z level=INFO"),
    ("see \x1b]8;;http://x.lan\x1b\\docs\x1b]8;;\x1b\\ now", "see docs now"),
    ("\x1b(B\x1b[m[GIN] 2026/11/03", "[GIN] 2026/11/03"),
    ("a\x1bPq#0;2;0;0;0\x1b\\b", "ab"),
])
def test_terminal_escapes_are_removed_whole(raw: str, clean: str) -> None:
    """OSC titles and hyperlinks, charset designations and DCS strings, not only colours."""
    assert strip_ansi(raw) == clean
