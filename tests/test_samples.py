"""The committed samples are golden inputs: they must be reproducible and laid out as documented."""

from __future__ import annotations

import gzip
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
HANDWRITTEN = {"make_samples.py", "README.md"}


def _generated(folder: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and path.name not in HANDWRITTEN and "__pycache__" not in path.parts
    }


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("samples")
    subprocess.run([sys.executable, str(SAMPLES / "make_samples.py"), str(out)], check=True)
    return out


def test_rerun_reproduces_committed_samples_byte_for_byte(regenerated: Path) -> None:
    committed, fresh = _generated(SAMPLES), _generated(regenerated)
    assert sorted(fresh) == sorted(committed)
    for name, data in fresh.items():
        assert data == committed[name], f"{name} differs from a fresh run of make_samples.py"


def test_layout_has_every_documented_file() -> None:
    for rel in (
        "ollama/server.log",
        "ollama/server.log.1.gz",
        "deepchat/main.log",
        "nginx/access.log",
        "nginx/error.log",
        "openwebui/openwebui.log",
        "journald/ollama.journal.log",
        "README.md",
        "expected.json",
    ):
        assert (SAMPLES / rel).is_file(), rel
    assert sum(p.stat().st_size for p in SAMPLES.rglob("*") if p.is_file()) < 1_000_000


def test_docker_folder_is_a_json_file_container() -> None:
    [folder] = list((SAMPLES / "docker/containers").iterdir())
    assert re.fullmatch(r"[0-9a-f]{64}", folder.name)
    config = json.loads((folder / "config.v2.json").read_text())
    assert config["ID"] == folder.name
    assert config["Name"] == "/open-webui"
    assert config["Config"]["Labels"]["com.docker.compose.service"] == "open-webui"
    lines = (folder / f"{folder.name}-json.log").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    assert all(set(r) == {"log", "stream", "time"} and r["log"].endswith("\n") for r in records)
    assert {r["stream"] for r in records} == {"stdout", "stderr"}
    assert any("httpx.ReadTimeout: timed out" in r["log"] for r in records)


def test_cri_pod_log_layout_and_partials() -> None:
    [pod] = list((SAMPLES / "pods").iterdir())
    ns, name, uid = pod.name.split("_")
    assert (ns, name) == ("llm", "ollama-0")
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}", uid)
    lines = (pod / "ollama/0.log").read_text().splitlines()
    shape = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}(Z|[+-]\d\d:\d\d) (stdout|stderr) ([PF]) ")
    tags = [shape.match(line) for line in lines]
    assert all(tags), [line for line, m in zip(lines, tags, strict=True) if not m][:3]
    flags = [m.group(3) for m in tags if m]
    assert flags.count("P") >= 2 and flags[-1] == "F"
    assert any(m.group(1) == "+00:00" for m in tags if m)
    expected = json.loads((SAMPLES / "expected.json").read_text())["files"]
    [entry] = [v for k, v in expected.items() if k.startswith("pods/")]
    assert flags.count("F") == entry["lines"] and flags.count("P") == entry["partial_P_lines"]


def test_rotated_chunk_decompresses_and_precedes_server_log() -> None:
    text = gzip.decompress((SAMPLES / "ollama/server.log.1.gz").read_bytes()).decode()
    stamps = re.findall(r"\[GIN\] (\d{4}/\d\d/\d\d - \d\d:\d\d:\d\d)", text)
    assert stamps and stamps == sorted(stamps)
    assert stamps[0] >= "2026/11/03 - 08:30" and stamps[-1] < "2026/11/03 - 09:00"
    assert "llama runner started in" in text


def test_incident_is_visible_in_every_file_at_the_same_time() -> None:
    def read(rel: str) -> str:
        return (SAMPLES / rel).read_text()

    server = read("ollama/server.log")
    assert re.search(
        r"time=2026-11-03T10:30:10\.\d{3}Z level=ERROR .*timed out waiting for llama runner", server
    )
    assert "2026/11/03 09:00:01 routes.go:871: Listening on 127.0.0.1:11434" in server
    assert re.search(r"\[GIN\] 2026/11/03 - 10:[23]\d:\d\d \| 500 \| +5m\d+s \|", server)
    assert re.search(
        r'2026-11-03T10:[23]\d:\S+ level=error msg="Failed to stream response from Ollama" .*'
        r'error="context deadline exceeded"',
        read("deepchat/main.log"),
    )
    assert re.search(
        r'\[03/Nov/2026:10:[23]\d:\d\d \+0000\] "POST /api/generate HTTP/1.1" 504 ', read("nginx/access.log")
    )
    assert re.search(
        r"^2026/11/03 10:[23]\d:\d\d \[error\] .*upstream timed out \(110: Connection timed out\) "
        r"while reading response header from upstream",
        read("nginx/error.log"),
        re.M,
    )
    assert re.search(r"^Nov  3 10:40:\d\d gpu-box systemd", read("journald/ollama.journal.log"), re.M)
    owui = read("openwebui/openwebui.log")
    assert "Traceback (most recent call last):" in owui and "httpx.ReadTimeout: timed out" in owui


def test_expected_counts_match_the_files() -> None:
    expected = json.loads((SAMPLES / "expected.json").read_text())["files"]
    for rel in (
        "ollama/server.log",
        "deepchat/main.log",
        "nginx/access.log",
        "nginx/error.log",
        "openwebui/openwebui.log",
    ):
        assert len((SAMPLES / rel).read_text().splitlines()) == expected[rel]["lines"], rel
    gin = [
        line for line in (SAMPLES / "ollama/server.log").read_text().splitlines() if line.startswith("[GIN] ")
    ]
    requests = sum(
        n for tag, n in expected["ollama/server.log"]["tags"].items() if tag.startswith("request:")
    )
    assert len(gin) == requests


def test_replay_derives_the_events_the_samples_were_written_to_hold() -> None:
    """Per file, the events replay makes equal expected.json's count by kind (status, operation): one
    inference per llama.cpp timing block, a model load only where one happened, a traceback one error."""
    from collections import Counter, defaultdict

    from tests.conftest import run_cli

    expected = json.loads((SAMPLES / "expected.json").read_text())["files"]
    proc = run_cli("replay", str(SAMPLES), "--format", "events", "--no-progress")
    assert proc.returncode == 0, proc.stderr.decode()
    got: defaultdict[str, Counter[str]] = defaultdict(Counter)
    for line in proc.stdout.splitlines():
        e = json.loads(line)
        kind = e["kind"]
        tag = (f"request:{e['status']}" if kind == "request" else f"timeout:{e['operation']}" if kind == "timeout"
               else kind)
        got[Path(e["file"]).relative_to(SAMPLES).as_posix()][tag] += 1
    for rel, want in expected.items():
        tags = Counter(want["tags"])
        tags["log"] += want.get("systemd_lines", 0)  # journald's own lines are events too
        assert got[rel] == tags, rel
    server = expected["ollama/server.log"]["tags"]
    assert server["model_load"] == 3 and server["inference"] == 50  # three loads (09:02, 10:05, 10:40)
