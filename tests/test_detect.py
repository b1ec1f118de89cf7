"""`logmetrics detect` and the replay summary's poorly recognised files, on small fixture files."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

import logmetrics
from logmetrics.config import Settings
from logmetrics.core.errors import UserError
from logmetrics.offline.detect import EXAMPLE_CHARS, Detection, detect_paths
from logmetrics.parse.envelopes import wrap_docker
from logmetrics.sinks.render import render_table
from logmetrics.sinks.summary import Summary
from tests.conftest import run_cli

CONTAINER = "3f" * 32
SECRET = "hunter2"

NGINX = [
    f'10.0.7.{i % 9} - - [03/Nov/2026:09:{i:02d}:42 +0000] "POST /api/chat HTTP/1.1" {500 if i % 7 == 0 else 200} '
    f'{1000 + i} "-" "python-httpx/0.27.0" {i / 10:.3f}'
    for i in range(30)
]
OLLAMA = [
    f'time=2026-11-03T09:00:{i:02d}.000Z level=INFO source=images.go:754 msg="total blobs: {i}"' for i in range(10)
] + [
    f'[GIN] 2026/11/03 - 09:01:{i:02d} | 200 |   {i + 1}.5s |      172.18.0.5 | POST     "/api/chat"' for i in range(20)
]
UNKNOWN = [
    f"user admin logged in with password={SECRET} from console",
    "",
    "x" * 500,
] + [f"frobnicating widget {i} of the flux capacitor" for i in range(25)]
UNKNOWN.append(UNKNOWN[3])  # a repeat

JSON_KEYS = {"file", "app", "envelopes", "envelope_chains", "format", "formats", "lines_read", "complete",
             "lines_unrecognized", "recognized_ratio", "unrecognized_examples", "problem"}


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("detect")
    (root / "web").mkdir()
    (root / "web" / "access.log").write_text("\n".join(NGINX) + "\n")
    docker = root / "containers" / CONTAINER
    docker.mkdir(parents=True)
    (docker / f"{CONTAINER}-json.log").write_text("".join(wrap_docker(x) + "\n" for x in OLLAMA))
    (root / "misc").mkdir()
    (root / "misc" / "odd.log").write_text("\n".join(UNKNOWN) + "\n")
    with gzip.open(root / "web" / "access.log.1.gz", "wt") as f:
        f.write("\n".join(NGINX[:12]) + "\n")
    return root


def _by_name(found: list[Detection]) -> dict[str, Detection]:
    return {Path(d.file).name: d for d in found}


def test_what_each_file_is(logs: Path) -> None:
    found = _by_name(detect_paths([logs]))
    assert set(found) == {"access.log", "access.log.1.gz", f"{CONTAINER}-json.log", "odd.log"}

    nginx = found["access.log"]
    assert (nginx.app, nginx.envelopes, nginx.format) == ("nginx", (), "nginx/access")
    assert (nginx.lines_read, nginx.lines_unrecognized, nginx.recognized_ratio, nginx.complete) == (30, 0, 1.0, True)
    assert nginx.examples == () and nginx.problem is None

    gz = found["access.log.1.gz"]
    assert (gz.app, gz.format, gz.lines_read, gz.lines_unrecognized) == ("nginx", "nginx/access", 12, 0)

    ollama = found[f"{CONTAINER}-json.log"]
    assert (ollama.app, ollama.envelopes) == ("ollama", ("docker",))
    assert ollama.envelope_chains == ((("docker",), 30),)
    assert [(f.name, f.lines) for f in ollama.formats] == [("ollama/gin_access", 20), ("ollama/slog", 10)]
    assert ollama.recognized_ratio == 1.0

    odd = found["odd.log"]
    assert (odd.app, odd.envelopes, odd.formats, odd.format) == ("unknown", (), (), None)
    assert (odd.lines_read, odd.lines_unrecognized) == (29, 29)
    assert odd.recognized_ratio == 0.0


def test_examples_are_redacted_distinct_and_cut(logs: Path) -> None:
    odd = _by_name(detect_paths([logs / "misc"]))["odd.log"]
    # The first three distinct non-blank ones: the secret redacted, the long line cut after it.
    assert len(odd.examples) == 3
    assert SECRET not in odd.examples[0] and odd.examples[0] == UNKNOWN[0].replace(SECRET, "[REDACTED]")
    assert len(odd.examples[1]) == EXAMPLE_CHARS and odd.examples[1] == "x" * (EXAMPLE_CHARS - 1) + "…"
    assert odd.examples[2] == UNKNOWN[3]
    # Redaction follows the settings, as on every output path.
    raw = detect_paths([logs / "misc"], settings=Settings(redact=False), max_lines=1)[0]
    assert raw.examples == (UNKNOWN[0],) and (raw.lines_read, raw.complete) == (1, False)
    # A repeated line is one example.
    dup = detect_paths([logs / "misc"], max_lines=len(UNKNOWN))[0]
    assert dup.examples == odd.examples and dup.lines_unrecognized == len(UNKNOWN)


def test_a_records_first_line_counts_but_is_no_example(tmp_path: Path) -> None:
    lines = ["Traceback (most recent call last):", '  File "a.py", line 1, in f', "ValueError: boom",
             "-----BEGIN PRIVATE KEY-----", "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7",
             "-----END PRIVATE KEY-----", "plain words nobody parses"]
    (tmp_path / "t.log").write_text("\n".join(lines) + "\n")
    d = detect_paths([tmp_path])[0]
    assert d.lines_read == 7 and d.lines_unrecognized == 3  # each record's first line, and the plain one
    assert d.examples == ("plain words nobody parses",)


def test_reads_at_most_n_lines(logs: Path) -> None:
    d = detect_paths([logs / "web" / "access.log"], max_lines=7)[0]
    assert (d.lines_read, d.complete, d.formats[0].lines) == (7, False, 7)
    exact = detect_paths([logs / "web" / "access.log"], max_lines=30)[0]
    assert (exact.lines_read, exact.complete) == (30, True)


def test_bad_paths_raise_like_replay(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="no such file or folder"):
        detect_paths([tmp_path / "nope.log"])
    with pytest.raises(UserError, match="no file matches"):
        detect_paths([str(tmp_path / "*.log")])


def test_library_export(logs: Path) -> None:
    found = logmetrics.detect(logs / "web", lines=5)
    assert [d.lines_read for d in found] == [5, 5]
    assert all(isinstance(d, logmetrics.Detection) for d in found)


def test_cli_table_and_json(logs: Path) -> None:
    table = run_cli("detect", str(logs))
    assert table.returncode == 0, table.stderr.decode()
    text = table.stdout.decode()
    assert SECRET not in text and "[REDACTED]" in text
    assert "  envelopes   docker\n" in text and "ollama/gin_access (20), ollama/slog (10)" in text
    assert "  recognised  0.0% of 29 lines, 29 unrecognised" in text

    proc = run_cli("detect", str(logs), "--format", "json", "--lines", "29")
    assert proc.returncode == 0, proc.stderr.decode()
    assert SECRET.encode() not in proc.stdout
    doc = json.loads(proc.stdout)
    assert set(doc) == {"schema", "version", "max_lines", "files"}
    assert (doc["schema"], doc["version"], doc["max_lines"]) == ("logmetrics.detect", 1, 29)
    files = {Path(f["file"]).name: f for f in doc["files"]}
    assert all(set(f) == JSON_KEYS for f in files.values())
    nginx = files["access.log"]
    assert nginx["envelopes"] == [] and nginx["formats"] == [{"app": "nginx", "pattern": "access", "lines": 29}]
    assert (nginx["lines_read"], nginx["complete"], nginx["recognized_ratio"]) == (29, False, 1.0)
    docker = files[f"{CONTAINER}-json.log"]
    assert docker["envelope_chains"] == [{"envelopes": ["docker"], "lines": 29}]
    assert docker["app"] == "ollama" and docker["format"] == "ollama/gin_access"
    odd = files["odd.log"]
    assert odd["recognized_ratio"] == 0.0 and len(odd["unrecognized_examples"]) == 3
    assert odd["problem"] is None


def test_cli_bad_path_is_one_line_and_exit_2(tmp_path: Path) -> None:
    proc = run_cli("detect", str(tmp_path / "nope.log"))
    assert proc.returncode == 2
    assert proc.stdout == b""
    assert proc.stderr.decode().count("\n") == 1 and "nope.log: no such file or folder" in proc.stderr.decode()
    assert run_cli("detect", str(tmp_path), "--lines", "0").returncode == 2


def test_damaged_gz_is_named_and_exit_1(tmp_path: Path) -> None:
    data = gzip.compress(("\n".join(NGINX) + "\n").encode())
    (tmp_path / "cut.log.gz").write_bytes(data[: len(data) // 2])
    proc = run_cli("detect", str(tmp_path), "--format", "json")
    assert proc.returncode == 1
    (f,) = json.loads(proc.stdout)["files"]
    assert f["problem"] and f["complete"] is False and f["app"] in ("nginx", "unknown")
    assert "cut.log.gz" in proc.stderr.decode()


# -- the replay summary names the files mostly unrecognised ------------------------------------------


def test_replay_names_poorly_recognised_files(logs: Path) -> None:
    proc = run_cli("replay", str(logs), "--format", "json", "--no-progress", "--jobs", "1")
    assert proc.returncode == 0, proc.stderr.decode()
    poor = json.loads(proc.stdout)["poorly_recognized_files"]
    assert poor == [{"file": str(logs / "misc" / "odd.log"), "lines": 29, "lines_unrecognized": 29,
                     "recognized_ratio": 0.0}]
    # detect counts the same lines the same way
    d = _by_name(detect_paths([logs]))["odd.log"]
    assert (d.lines_read, d.lines_unrecognized) == (poor[0]["lines"], poor[0]["lines_unrecognized"])
    table = run_cli("replay", str(logs), "--no-progress", "--jobs", "1").stdout.decode()
    assert "poorly recognised files" in table
    assert f"  {logs / 'misc' / 'odd.log'}: 100.0% unrecognised (29 of 29 lines)\n" in table
    assert SECRET not in table


def test_summary_threshold() -> None:
    s = Summary()
    s.stats.file_lines.update({"few.log": 19, "good.log": 100, "edge.log": 100, "bad.log": 40})
    s.stats.file_unrecognized.update({"few.log": 19, "good.log": 19, "edge.log": 20, "bad.log": 30})
    poor = s.to_dict()["poorly_recognized_files"]
    assert [(p["file"], p["recognized_ratio"]) for p in poor] == [("bad.log", 0.25), ("edge.log", 0.8)]
    assert "poorly recognised" in render_table(s.to_dict())
    assert "poorly recognised" not in render_table(Summary().to_dict())
    assert Summary().to_dict()["poorly_recognized_files"] == []
