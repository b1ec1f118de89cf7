"""Write the golden sample logs: one incident on 2026-11-03, seen by every component.

Deterministic on purpose (seeded RNG, no wall clock, gzip mtime 0): the samples
are golden-test inputs, so re-running this must reproduce them byte for byte.
Line formats come from ``logmetrics.demo`` so samples and live demo never drift.

    python samples/make_samples.py [OUTDIR]     # default: this script's folder
"""

from __future__ import annotations

import gzip
import json
import random
import shutil
import sys
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from logmetrics.demo import (
    FILES,
    MODEL_BIG,
    MODEL_SMALL,
    Line,
    Phase,
    Story,
    exchange,
    iso_ns,
    loguru_line,
    model_load_lines,
    nginx_access_line,
    nginx_error_line,
    runner_timeout_lines,
    slog_line,
    startup_lines,
    syslog_time,
)

SEED = 20261103
DAY = datetime(2026, 11, 3, tzinfo=UTC)


def at(hh: int, mm: int, ss: int = 0, ms: int = 0) -> datetime:
    return DAY.replace(hour=hh, minute=mm, second=ss, microsecond=ms * 1000)


# The timeline every file agrees on (also written to expected.json).
TIMELINE: list[tuple[datetime, str]] = [
    (at(8, 30), "rotated log: Ollama 0.3.14 starts, llama3:8b loads, ordinary traffic"),
    (at(9, 0), "Ollama restarted by logrotate; new server.log begins"),
    (at(9, 2, 14, 512), "first chat of the morning loads llama3:8b (runner started in 5.65 s)"),
    (at(9, 29, 41), "open-webui container recreated (v0.5, loguru timestamps from here)"),
    (at(10, 5), "someone loads qwen2.5:32b (38.20 s); the GPU is shared, chat latency climbs"),
    (at(10, 25), "llama3:8b evicted and cannot come back: clients time out (499/500/504)"),
    (at(10, 30, 10, 417), "first 'timed out waiting for llama runner to start'"),
    (at(10, 35, 14, 88), "second 'timed out waiting for llama runner to start'"),
    (at(10, 40), "operator restarts Ollama (0.4.7); nginx gets connection refused for a few seconds"),
    (at(10, 40, 31, 250), "llama3:8b loaded again (runner started in 6.12 s); latency back to normal"),
    (at(10, 45), "normal traffic until 11:00"),
]


def phase_of(when: datetime) -> tuple[Phase, float]:
    if at(10, 5) <= when < at(10, 25):
        return "slow", (when - at(10, 5)) / timedelta(minutes=20)
    if at(10, 25) <= when < at(10, 40):
        return "timeouts", (when - at(10, 25)) / timedelta(minutes=15)
    if at(10, 40) <= when < at(10, 45):
        return "recovery", (when - at(10, 40)) / timedelta(minutes=5)
    return "normal", 0.0


def traffic(
    story: Story,
    start: datetime,
    end: datetime,
    scripted: list[tuple[datetime, Callable[[Story], list[Line]]]],
) -> list[Line]:
    """Random exchanges between ``start`` and ``end`` with scripted events spliced in."""
    rng = story.rng
    out: list[Line] = []
    pending = sorted(scripted, key=lambda item: item[0])
    when = start
    while True:
        when += timedelta(microseconds=int(rng.expovariate(1 / 8.5) * 1_000_000))
        while pending and pending[0][0] <= when:
            out += pending.pop(0)[1](story)
        if when >= end:
            break
        phase, progress = phase_of(when)
        if at(10, 40) <= when < at(10, 40, 5):
            continue  # Ollama is down while it restarts
        out += exchange(story, phase, progress, when)
    for _, action in pending:
        out += action(story)
    return out


def old_owui_startup(when: datetime) -> list[Line]:
    texts = [
        "INFO:     Started server process [1]",
        "INFO:     Waiting for application startup.",
        "INFO:apps.ollama.main:get_all_models()",
        "INFO:     Application startup complete.",
        "INFO:     Uvicorn running on http://0.0.0.0:8080 (Press CTRL+C to quit)",
    ]
    return [Line("openwebui", when + timedelta(milliseconds=i * 40), t) for i, t in enumerate(texts)]


def new_owui_startup(when: datetime) -> list[Line]:
    rows = [
        ("open_webui.env:<module>:263", "VECTOR_DB: chroma"),
        ("open_webui.utils.logger:start_logger:140", "GLOBAL_LOG_LEVEL: INFO"),
        ("open_webui.main:lifespan:479", "Installing external dependencies of functions and tools..."),
        ("uvicorn.server:_serve:84", "Started server process [1]"),
        ("uvicorn.lifespan.on:startup:48", "Waiting for application startup."),
        ("uvicorn.lifespan.on:startup:62", "Application startup complete."),
        (
            "uvicorn.server:_log_started_message:216",
            "Uvicorn running on http://0.0.0.0:8080 (Press CTRL+C to quit)",
        ),
    ]
    out = []
    for i, (where, msg) in enumerate(rows):
        t = when + timedelta(milliseconds=180 * i + 7)
        out.append(Line("openwebui", t, loguru_line(t, "INFO", where, msg)))
    return out


def owui_traceback(when: datetime) -> list[Line]:
    """One Open WebUI request that hit httpx's read timeout while Ollama hung."""
    site = "/usr/local/lib/python3.11/site-packages"
    texts = [
        loguru_line(
            when,
            "ERROR",
            "open_webui.routers.ollama:send_post_request:170",
            "Exception while streaming from Ollama: timed out",
        ),
        "Traceback (most recent call last):",
        f'  File "{site}/httpx/_transports/default.py", line 72, in map_httpcore_exceptions',
        "    yield",
        f'  File "{site}/httpx/_transports/default.py", line 377, in handle_async_request',
        "    resp = await self._pool.handle_async_request(req)",
        f'  File "{site}/httpcore/_async/http11.py", line 217, in _receive_event',
        "    data = await self._network_stream.read(",
        "httpcore.ReadTimeout: timed out",
        "",
        "The above exception was the direct cause of the following exception:",
        "",
        "Traceback (most recent call last):",
        '  File "/app/backend/open_webui/routers/ollama.py", line 151, in send_post_request',
        "    r = await client.post(url, content=payload, headers=headers)",
        f'  File "{site}/httpx/_client.py", line 1859, in post',
        "    return await self.request(",
        f'  File "{site}/httpx/_transports/default.py", line 89, in map_httpcore_exceptions',
        "    raise mapped_exc(message) from exc",
        "httpx.ReadTimeout: timed out",
    ]
    # The loguru record says the stream timed out; the chained traceback under it is one error event.
    tags = ["timeout:request", "error"] + [""] * (len(texts) - 2)
    return [Line("openwebui", when, text, tag) for text, tag in zip(texts, tags, strict=True)]


def restart_lines(story: Story) -> list[Line]:
    """10:40: Ollama down for ~4 s; nginx cannot connect and answers 502."""
    rng = story.rng
    out = [
        Line(
            "ollama",
            at(10, 40, 0, 12),
            slog_line(
                at(10, 40, 0, 12),
                "INFO",
                "routes.go:1262",
                "received signal, shutting down",
                signal="terminated",
            ),
        )
    ]
    for i, path in enumerate(["/api/chat", "/api/tags", "/api/chat"]):
        when = at(10, 40, 1 + i, 100 + 37 * i)
        client = f"10.0.4.{rng.randint(10, 80)}"
        out.append(
            Line(
                "nginx_error",
                when,
                nginx_error_line(
                    when,
                    "error",
                    story.next_conn(),
                    "connect() failed (111: Connection refused) while connecting to upstream",
                    client=client,
                    method="POST" if path == "/api/chat" else "GET",
                    path=path,
                    upstream=f"http://127.0.0.1:11434{path}",
                ),
                "error",
            )
        )
        out.append(
            Line(
                "nginx_access",
                when,
                nginx_access_line(
                    when, client, "POST" if path == "/api/chat" else "GET", path, 502, 157, "-", 0.0
                ),
                "request:502",
            )
        )
    story.timing_style = "server"
    out += startup_lines(at(10, 40, 4, 3), "0.4.7")
    return out


def ollama_log(
    story: Story,
    start: datetime,
    end: datetime,
    first_load: datetime,
    scripted: list[tuple[datetime, Callable[[Story], list[Line]]]],
) -> list[Line]:
    events = [(first_load, lambda s: model_load_lines(s, first_load, MODEL_SMALL, 5.65)), *scripted]
    return startup_lines(start, "0.3.14") + traffic(story, start + timedelta(seconds=3), end, events)


def by_file(lines: list[Line]) -> dict[str, list[Line]]:
    """Each file's lines in time order (stable, so same-instant lines keep story order)."""
    files: dict[str, list[Line]] = {key: [] for key in FILES}
    for line in lines:
        files[line.file].append(line)
    return {key: sorted(value, key=lambda line: line.when) for key, value in files.items()}


def text_of(lines: list[Line]) -> str:
    return "".join(line.text + "\n" for line in lines)


def stream_of(text: str) -> str:
    """gin writes to stdout; Ollama's slog and llama.cpp write to stderr."""
    return (
        "stdout" if text.startswith("[GIN]") or text.startswith("INFO:") or " | INFO " in text else "stderr"
    )


def docker_json(lines: list[Line], rng: random.Random) -> str:
    out = []
    for line in lines:
        written = line.when + timedelta(microseconds=rng.randint(40, 900))
        record = {
            "log": line.text + "\n",
            "stream": stream_of(line.text),
            "time": iso_ns(written, rng.randint(0, 999)),
        }
        out.append(json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n")
    return "".join(out)


def cri_time(line: Line, extra: int) -> str:
    """Mostly ``Z``; 10:12–10:14 as ``+00:00`` and 10:20–10:21 as ``+01:00`` to exercise zones."""
    when = line.when
    if at(10, 12) <= when < at(10, 14):
        return iso_ns(when, extra)[:-1] + "+00:00"
    if at(10, 20) <= when < at(10, 21):
        return iso_ns(when + timedelta(hours=1), extra)[:-1] + "+01:00"
    return iso_ns(when, extra)


def cri_log(lines: list[Line], rng: random.Random) -> tuple[str, int]:
    """CRI lines; long lines are split into ``P`` chunks ended by an ``F`` chunk."""
    out = []
    partial = 0
    for line in lines:
        written = Line(line.file, line.when + timedelta(microseconds=rng.randint(40, 900)), line.text)
        stamp = cri_time(written, rng.randint(0, 999))
        stream = stream_of(line.text)
        text = line.text
        if len(text) > 400:
            chunks = [text[i : i + 256] for i in range(0, len(text), 256)]
            for chunk in chunks[:-1]:
                out.append(f"{stamp} {stream} P {chunk}\n")
                partial += 1
            text = chunks[-1]
        out.append(f"{stamp} {stream} F {text}\n")
    return "".join(out), partial


def journald(lines: list[Line]) -> str:
    out = []
    for line in lines:
        pid = 1543 if line.when < at(10, 40, 2) else 48211
        out.append(f"{syslog_time(line.when)} gpu-box ollama[{pid}]: {line.text}\n")
        if line.when == at(10, 40, 0, 12):
            out.append(
                f"{syslog_time(at(10, 40, 0))} gpu-box systemd[1]: "
                "Stopping ollama.service - Ollama Service...\n"
            )
            out.append(
                f"{syslog_time(at(10, 40, 2), pad_day=True)} gpu-box systemd[1]: ollama.service: "
                "Deactivated successfully.\n"
            )
            out.append(
                f"{syslog_time(at(10, 40, 3))} gpu-box systemd[1]: Started ollama.service - Ollama Service.\n"
            )
    return "".join(out)


def count(lines: list[Line]) -> dict[str, object]:
    tags = Counter(line.tag for line in lines if line.tag)
    return {"lines": len(lines), "events": sum(tags.values()), "tags": dict(sorted(tags.items()))}


def window(lines: list[Line], start: datetime, end: datetime) -> list[Line]:
    return [line for line in lines if start <= line.when < end]


def write(path: Path, data: str | bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8")
    path.write_bytes(data)


def main(outdir: Path) -> None:
    # Container/pod folder names come from the RNG; drop stale ones from older runs.
    for generated in ("docker", "pods"):
        shutil.rmtree(outdir / generated, ignore_errors=True)
    rng = random.Random(SEED)

    # 08:30-09:00, the rotated chunk: only Ollama, normal traffic.
    early = Story(rng)
    early_lines = [
        line
        for line in ollama_log(early, at(8, 30), at(8, 59, 58), at(8, 31, 7, 40), [])
        if line.file == "ollama"
    ]
    gz = gzip.compress(text_of(sorted(early_lines, key=lambda line: line.when)).encode(), mtime=0)

    # 09:00-11:00: the morning with the incident.
    story = Story(rng, conn=20000, owui_plain=True)

    def switch_owui(s: Story) -> list[Line]:
        s.owui_plain = False
        return new_owui_startup(at(9, 29, 41, 300))

    scripted: list[tuple[datetime, Callable[[Story], list[Line]]]] = [
        (at(9, 29, 41), switch_owui),
        (at(10, 5, 38), lambda s: model_load_lines(s, at(10, 5, 38, 204), MODEL_BIG, 38.20)),
        (at(10, 30, 10), lambda s: runner_timeout_lines(s, at(10, 30, 10, 417), MODEL_SMALL)),
        (at(10, 30, 11), lambda s: owui_traceback(at(10, 30, 11, 2))),
        (at(10, 35, 14), lambda s: runner_timeout_lines(s, at(10, 35, 14, 88), MODEL_SMALL)),
        (at(10, 40), restart_lines),
        (at(10, 40, 31), lambda s: model_load_lines(s, at(10, 40, 31, 250), MODEL_SMALL, 6.12)),
    ]
    lines = ollama_log(story, at(9, 0), at(11, 0), at(9, 2, 14, 512), scripted)
    lines.append(
        Line("ollama", at(9, 0, 1, 0), "2026/11/03 09:00:01 routes.go:871: Listening on 127.0.0.1:11434")
    )
    lines += old_owui_startup(at(9, 0, 3, 250))
    files = by_file(lines)

    for key, rel in FILES.items():
        write(outdir / rel, text_of(files[key]))
    write(outdir / "ollama/server.log.1.gz", gz)

    # Envelopes: the same lines as Docker, Kubernetes and systemd would store them.
    ids = random.Random(SEED + 1)
    cid = f"{ids.getrandbits(256):064x}"
    owui_container = window(files["openwebui"], at(9, 29, 41), at(11, 0))
    folder = outdir / "docker/containers" / cid
    write(folder / f"{cid}-json.log", docker_json(owui_container, ids))
    config = {
        "ID": cid,
        "Created": "2026-11-03T09:29:40.811532071Z",
        "Path": "bash",
        "Args": ["start.sh"],
        "Config": {
            "Hostname": cid[:12],
            "Image": "ghcr.io/open-webui/open-webui:main",
            "Env": ["OLLAMA_BASE_URL=http://ollama:11434", "PORT=8080"],
            "Labels": {
                "com.docker.compose.project": "llm",
                "com.docker.compose.service": "open-webui",
                "com.docker.compose.container-number": "1",
                "com.docker.compose.oneoff": "False",
            },
        },
        "Image": f"sha256:{ids.getrandbits(256):064x}",
        "Name": "/open-webui",
        "LogPath": f"/var/lib/docker/containers/{cid}/{cid}-json.log",
        "Driver": "overlay2",
        "State": {"Running": True, "Pid": 48873, "StartedAt": "2026-11-03T09:29:41.203944121Z"},
    }
    write(folder / "config.v2.json", json.dumps(config, separators=(",", ":")) + "\n")

    pod_uid = str(uuid.UUID(int=ids.getrandbits(128), version=4))
    pod_lines = window(files["ollama"], at(10, 0), at(10, 50))
    cri_text, partial = cri_log(pod_lines, ids)
    write(outdir / f"pods/llm_ollama-0_{pod_uid}/ollama/0.log", cri_text)

    journal_lines = window(files["ollama"], at(9, 55), at(10, 50))
    write(outdir / "journald/ollama.journal.log", journald(journal_lines))

    expected: dict[str, object] = {
        "timeline": [
            {"at": when.isoformat().replace("+00:00", "Z"), "what": what} for when, what in TIMELINE
        ],
        "note": "tags count the events a correct parser derives (request:<status>, "
        "timeout:<operation>, error, model_load, inference, log): a llama.cpp timing block is one inference, its "
        "load time no model load of its own (Ollama logs the load); envelope files count inner lines",
        "files": {
            **{rel: count(files[key]) for key, rel in FILES.items()},
            "ollama/server.log.1.gz": count(early_lines),
            f"docker/containers/{cid}/{cid}-json.log": count(owui_container),
            f"pods/llm_ollama-0_{pod_uid}/ollama/0.log": {**count(pod_lines), "partial_P_lines": partial},
            "journald/ollama.journal.log": {**count(journal_lines), "systemd_lines": 3},
        },
    }
    write(outdir / "expected.json", json.dumps(expected, indent=2) + "\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent)
