"""Realistic LLM-serving log lines, and the live demo writer built on them.

The line builders here are the single source of every log format we fake:
``samples/make_samples.py`` imports them to write the golden samples, and
``run_demo`` uses them to keep a demo stack's log files growing.  Keeping one
copy means a format fix lands in the samples and in the demo at once.

Formats follow what the real programs print (gin's access logger, Go's
``time.Duration``, Ollama's slog text handler, llama.cpp timing lines, uvicorn,
loguru, nginx ``combined`` + ``$request_time``, nginx error log).
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

from .parse.conversions import format_go_duration

Phase = Literal["normal", "slow", "timeouts", "recovery"]
TimingStyle = Literal["llama_print_timings", "server"]

# Log file keys -> path under the demo/samples directory.
FILES: dict[str, str] = {
    "ollama": "ollama/server.log",
    "deepchat": "deepchat/main.log",
    "nginx_access": "nginx/access.log",
    "nginx_error": "nginx/error.log",
    "openwebui": "openwebui/openwebui.log",
}

# Demo cycle: (phase, seconds).  Short enough that a demo viewer sees an
# incident within minutes of `docker compose up`.
DEMO_CYCLE: tuple[tuple[Phase, float], ...] = (
    ("normal", 150.0),
    ("slow", 60.0),
    ("timeouts", 60.0),
    ("recovery", 30.0),
)

NS = 1_000_000_000
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

MODEL_SMALL = "llama3:8b"
MODEL_BIG = "qwen2.5:32b"
BLOB_SMALL = "sha256-6a0746a1ec1aef3e7ec53868f220ff6e389f6f8ef87a01d77c96807de94ca2aa"
BLOB_BIG = "sha256-eabc98a9bcbfce7fd70f3e07de599f8fda98120fefed5881934161ede8bd1a41"
GPU_ID = "GPU-8f3b2c1e-5d47-4e0a-9b61-2f7c9d0e4a13"
OWUI_IP = "172.18.0.5"  # open-webui container, talks to Ollama directly
GATEWAY_IP = "172.18.0.1"  # requests proxied by nginx on the host
NGINX_SERVER = "llm.example.internal"
DEEPCHAT_UA = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "DeepChat/0.2.5 Chrome/126.0.6478.234 Electron/31.7.7 Safari/537.36"
)
SCRIPT_UA = "python-httpx/0.27.0"
CURL_UA = "curl/8.5.0"


@dataclass(frozen=True)
class Line:
    """One written line: which file, the moment it stands for, its text, what it is.

    ``tag`` is the kind a correct parser should derive (``request:200``,
    ``timeout:runner_start``, ``error``, ``model_load``, ``inference``, ``log``), or ``""`` for a
    line that is part of the event before it (a timing block's other lines); the samples script
    counts tags into ``expected.json`` for golden tests.
    """

    file: str
    when: datetime
    text: str
    tag: str = "log"


# ---------------------------------------------------------------- time formats


def iso_ms(when: datetime) -> str:
    """RFC 3339 UTC with milliseconds, as Ollama's slog and DeepChat print it."""
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def iso_ns(when: datetime, extra_ns: int = 0) -> str:
    """Nanosecond RFC 3339 as Docker and CRI runtimes write it."""
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond * 1000 + extra_ns:09d}Z"


def gin_time(when: datetime) -> str:
    return when.strftime("%Y/%m/%d - %H:%M:%S")


def nginx_access_time(when: datetime) -> str:
    return f"{when.day:02d}/{MONTHS[when.month - 1]}/{when.year}:{when:%H:%M:%S} +0000"


def nginx_error_time(when: datetime) -> str:
    return when.strftime("%Y/%m/%d %H:%M:%S")


def loguru_time(when: datetime) -> str:
    return when.strftime("%Y-%m-%d %H:%M:%S.") + f"{when.microsecond // 1000:03d}"


def syslog_time(when: datetime, *, pad_day: bool = False) -> str:
    """journalctl prints ``Nov 03``; classic syslog pads the day: ``Nov  3``."""
    day = f"{when.day:2d}" if pad_day else f"{when.day:02d}"
    return f"{MONTHS[when.month - 1]} {day} {when:%H:%M:%S}"


# ---------------------------------------------------------------- durations


def gin_latency(ns: int) -> str:
    """gin truncates latencies above one minute to whole seconds before printing."""
    if ns > 60 * NS:
        ns -= ns % NS
    return format_go_duration(ns)


# ---------------------------------------------------------------- line builders


def gin_line(when: datetime, status: int, ns: int, client: str, method: str, path: str) -> str:
    """gin's default LoggerWithFormatter without colours (``%13v`` latency, ``%15s`` ip)."""
    return (
        f"[GIN] {gin_time(when)} | {status:3d} | {gin_latency(ns):>13} | {client:>15} |"
        f" {method:<7}  {json.dumps(path)}"
    )


def gin_debug_route(method: str, path: str, handler: str) -> str:
    return f"[GIN-debug] {method:<6} {path:<25} --> github.com/ollama/ollama/server.{handler} (5 handlers)"


def _slog_value(value: object) -> str:
    text = str(value)
    if text == "" or any(c in text for c in ' ="\\') or not text.isprintable():
        return json.dumps(text, ensure_ascii=False)
    return text


def slog_line(when: datetime, level: str, source: str, msg: str, **attrs: object) -> str:
    """Ollama's slog text handler: ``time=… level=INFO source=f.go:N msg="…" k=v``."""
    parts = [f"time={iso_ms(when)}", f"level={level}", f"source={source}", f"msg={_slog_value(msg)}"]
    parts += [f"{key.replace('__', '.')}={_slog_value(val)}" for key, val in attrs.items()]
    return " ".join(parts)


def logfmt_line(when: datetime, level: str, msg: str, **attrs: object) -> str:
    """DeepChat's main-process log: timestamp first, then logfmt pairs."""
    parts = [iso_ms(when), f"level={level}", f"msg={_slog_value(msg)}"]
    parts += [f"{key}={_slog_value(val)}" for key, val in attrs.items()]
    return " ".join(parts)


def uvicorn_access(client: str, method: str, path: str, status: int, *, reason: bool = True) -> str:
    phrase = {
        200: " OK",
        401: " Unauthorized",
        404: " Not Found",
        500: " Internal Server Error",
        502: " Bad Gateway",
        504: " Gateway Timeout",
    }.get(status, "")
    return f'INFO:     {client} - "{method} {path} HTTP/1.1" {status}{phrase if reason else ""}'


def loguru_line(when: datetime, level: str, where: str, msg: str) -> str:
    """Open WebUI ≥0.5 routes everything through loguru: ``ts | LEVEL    | mod:fn:line - msg``."""
    return f"{loguru_time(when)} | {level:<8} | {where} - {msg}"


def owui_access(story: Story, when: datetime, client: str, method: str, path: str, status: int) -> str:
    """Open WebUI's access line in whichever format its version uses."""
    if story.owui_plain:
        return uvicorn_access(client, method, path, status)
    return loguru_access(when, client, method, path, status)


def loguru_access(when: datetime, client: str, method: str, path: str, status: int) -> str:
    request = f'{client} - "{method} {path} HTTP/1.1" {status}'
    return loguru_line(when, "INFO", "uvicorn.protocols.http.httptools_impl:send:476", request)


def nginx_access_line(
    when: datetime,
    client: str,
    method: str,
    path: str,
    status: int,
    size: int,
    agent: str,
    seconds: float,
    referer: str = "-",
) -> str:
    """``combined`` plus ``$request_time`` (seconds, millisecond resolution)."""
    return (
        f'{client} - - [{nginx_access_time(when)}] "{method} {path} HTTP/1.1" {status} {size}'
        f' "{referer}" "{agent}" {seconds:.3f}'
    )


def nginx_error_line(
    when: datetime,
    level: str,
    conn: int,
    text: str,
    *,
    client: str,
    method: str,
    path: str,
    upstream: str | None = None,
) -> str:
    tail = f', upstream: "{upstream}"' if upstream else ""
    return (
        f"{nginx_error_time(when)} [{level}] 29#29: *{conn} {text}, client: {client}, "
        f'server: {NGINX_SERVER}, request: "{method} {path} HTTP/1.1"{tail}, host: "{NGINX_SERVER}"'
    )


def _rate(ms: float, count: int) -> tuple[float, float]:
    return ms / max(count, 1), count / (ms / 1000.0) if ms else 0.0


def llama_print_timings(
    load_ms: float, prompt_ms: float, prompt_n: int, eval_ms: float, eval_n: int
) -> list[str]:
    """The old llama.cpp block printed after each completion."""
    sample_ms = eval_n * 0.11
    p_per, p_rate = _rate(prompt_ms, prompt_n)
    s_per, s_rate = _rate(sample_ms, eval_n)
    e_per, e_rate = _rate(eval_ms, eval_n)
    pre = "llama_print_timings:"
    return [
        f"{pre}        load time = {load_ms:10.2f} ms",
        f"{pre}      sample time = {sample_ms:10.2f} ms / {eval_n:5d} runs   "
        f"({s_per:8.2f} ms per token, {s_rate:8.2f} tokens per second)",
        f"{pre} prompt eval time = {prompt_ms:10.2f} ms / {prompt_n:5d} tokens "
        f"({p_per:8.2f} ms per token, {p_rate:8.2f} tokens per second)",
        f"{pre}        eval time = {eval_ms:10.2f} ms / {eval_n:5d} runs   "
        f"({e_per:8.2f} ms per token, {e_rate:8.2f} tokens per second)",
        f"{pre}       total time = {load_ms + prompt_ms + eval_ms:10.2f} ms / {prompt_n + eval_n:5d} tokens",
    ]


def server_timings(
    task: int, prompt_ms: float, prompt_n: int, eval_ms: float, eval_n: int, *, prefixed: bool
) -> list[str]:
    """The newer llama-server form: a ``slot print_timing`` header, or the prefix on each line."""
    p_per, p_rate = _rate(prompt_ms, prompt_n)
    e_per, e_rate = _rate(eval_ms, eval_n)
    body = [
        f"prompt eval time = {prompt_ms:10.2f} ms / {prompt_n:5d} tokens "
        f"({p_per:8.2f} ms per token, {p_rate:8.2f} tokens per second)",
        f"       eval time = {eval_ms:10.2f} ms / {eval_n:5d} tokens "
        f"({e_per:8.2f} ms per token, {e_rate:8.2f} tokens per second)",
        f"      total time = {prompt_ms + eval_ms:10.2f} ms / {prompt_n + eval_n:5d} tokens",
    ]
    head = f"slot print_timing: id  0 | task {task} | "
    if prefixed:
        return [head + text for text in body]
    return [head, *body]


def llm_load_print_meta(model: str) -> list[str]:
    big = model == MODEL_BIG
    rows = [
        ("format", "GGUF V3 (latest)"),
        ("arch", "qwen2" if big else "llama"),
        ("vocab type", "BPE"),
        ("n_vocab", "152064" if big else "128256"),
        ("n_ctx_train", "32768" if big else "8192"),
        ("n_embd", "5120" if big else "4096"),
        ("n_layer", "64" if big else "32"),
        ("n_head", "40" if big else "32"),
        ("model type", "32B" if big else "8B"),
        ("model ftype", "Q4_K - Medium"),
        ("model params", "32.76 B" if big else "8.03 B"),
        ("model size", "18.48 GiB (4.85 BPW) " if big else "4.58 GiB (4.89 BPW) "),
    ]
    return [f"llm_load_print_meta: {key:<16} = {value}" for key, value in rows]


# ---------------------------------------------------------------- the story


@dataclass
class Story:
    """Mutable state shared by consecutive exchanges (connection ids, task ids, pids)."""

    rng: random.Random
    conn: int = 1400
    task: int = 0
    timing_style: TimingStyle = "llama_print_timings"
    owui_plain: bool = False  # Open WebUI <0.5 printed plain uvicorn/logging lines, no timestamps
    loaded: set[str] = field(default_factory=set)

    def next_conn(self) -> int:
        self.conn += self.rng.randint(1, 4)
        return self.conn


def _tick(when: datetime, ms: float) -> datetime:
    return when + timedelta(milliseconds=ms)


def chat_seconds(rng: random.Random, phase: Phase, progress: float) -> float:
    """Chat latency: seconds normally, climbing to minutes while the GPU is contended."""
    base = min(rng.lognormvariate(1.4, 0.55), 25.0)
    if phase == "slow":
        return base * (1.0 + 24.0 * progress * progress) + 3.0 * progress
    return base


def startup_lines(when: datetime, version: str) -> list[Line]:
    """What ``ollama serve`` prints while starting."""
    env = (
        "map[CUDA_VISIBLE_DEVICES: GPU_DEVICE_ORDINAL: HIP_VISIBLE_DEVICES: HSA_OVERRIDE_GFX_VERSION: "
        "HTTPS_PROXY: HTTP_PROXY: NO_PROXY: OLLAMA_DEBUG:false OLLAMA_FLASH_ATTENTION:false "
        "OLLAMA_HOST:http://0.0.0.0:11434 OLLAMA_KEEP_ALIVE:30m0s OLLAMA_LLM_LIBRARY: "
        "OLLAMA_LOAD_TIMEOUT:5m0s OLLAMA_MAX_LOADED_MODELS:0 OLLAMA_MAX_QUEUE:512 "
        "OLLAMA_MODELS:/root/.ollama/models OLLAMA_NOPRUNE:false OLLAMA_NUM_PARALLEL:4 "
        "OLLAMA_ORIGINS:[http://localhost https://localhost http://127.0.0.1 app://* file://*] "
        "OLLAMA_SCHED_SPREAD:false ROCR_VISIBLE_DEVICES:]"
    )
    out = [
        Line("ollama", when, slog_line(when, "INFO", "routes.go:1158", "server config", env=env)),
        Line("ollama", _tick(when, 4), slog_line(_tick(when, 4), "INFO", "images.go:754", "total blobs: 14")),
        Line(
            "ollama",
            _tick(when, 5),
            slog_line(_tick(when, 5), "INFO", "images.go:761", "total unused blobs removed: 0"),
        ),
    ]
    routes = [
        ("POST", "/api/pull", "(*Server).PullHandler-fm"),
        ("POST", "/api/generate", "(*Server).GenerateHandler-fm"),
        ("POST", "/api/chat", "(*Server).ChatHandler-fm"),
        ("POST", "/api/embed", "(*Server).EmbedHandler-fm"),
        ("POST", "/api/embeddings", "(*Server).EmbeddingsHandler-fm"),
        ("POST", "/api/create", "(*Server).CreateHandler-fm"),
        ("POST", "/api/push", "(*Server).PushHandler-fm"),
        ("POST", "/api/copy", "(*Server).CopyHandler-fm"),
        ("DELETE", "/api/delete", "(*Server).DeleteHandler-fm"),
        ("POST", "/api/show", "(*Server).ShowHandler-fm"),
        ("GET", "/api/ps", "(*Server).PsHandler-fm"),
        ("POST", "/v1/chat/completions", "(*Server).ChatHandler-fm"),
        ("GET", "/v1/models", "(*Server).ListHandler-fm"),
        ("GET", "/", "(*Server).GenerateRoutes.func1"),
        ("GET", "/api/tags", "(*Server).ListHandler-fm"),
        ("GET", "/api/version", "(*Server).GenerateRoutes.func2"),
        ("HEAD", "/", "(*Server).GenerateRoutes.func1"),
        ("HEAD", "/api/tags", "(*Server).ListHandler-fm"),
        ("HEAD", "/api/version", "(*Server).GenerateRoutes.func2"),
    ]
    at = _tick(when, 6)
    out.append(
        Line(
            "ollama",
            at,
            '[GIN-debug] [WARNING] Running in "debug" mode. Switch to "release" mode in production.',
        )
    )
    out += [Line("ollama", at, gin_debug_route(m, p, h)) for m, p, h in routes]
    at = _tick(when, 9)
    out += [
        Line(
            "ollama",
            at,
            slog_line(at, "INFO", "routes.go:1205", f"Listening on [::]:11434 (version {version})"),
        ),
        Line(
            "ollama",
            _tick(at, 1),
            slog_line(
                _tick(at, 1),
                "INFO",
                "common.go:135",
                "extracting embedded files",
                dir="/tmp/ollama3157946512/runners",
            ),
        ),
        Line(
            "ollama",
            _tick(at, 2400),
            slog_line(
                _tick(at, 2400),
                "INFO",
                "common.go:49",
                "Dynamic LLM libraries",
                runners="[cpu cpu_avx cpu_avx2 cuda_v11 cuda_v12 rocm_v60102]",
            ),
        ),
        Line(
            "ollama",
            _tick(at, 2401),
            slog_line(_tick(at, 2401), "INFO", "gpu.go:221", "looking for compatible GPUs"),
        ),
        Line(
            "ollama",
            _tick(at, 2702),
            slog_line(
                _tick(at, 2702),
                "INFO",
                "types.go:123",
                "inference compute",
                id=GPU_ID,
                library="cuda",
                variant="v12",
                compute="8.9",
                driver="12.4",
                name="NVIDIA L4",
                total="22.5 GiB",
                available="22.1 GiB",
            ),
        ),
    ]
    return out


def model_load_lines(story: Story, when: datetime, model: str, seconds: float) -> list[Line]:
    """Scheduler picks a GPU, starts the runner, and reports how long the load took.

    ``when`` is the moment the runner reports ready; earlier lines go back in time.
    """
    blob = BLOB_BIG if model == MODEL_BIG else BLOB_SMALL
    start = when - timedelta(seconds=seconds)
    port = story.rng.randint(33000, 46000)
    layers = 65 if model == MODEL_BIG else 33
    cmd = (
        f"/usr/lib/ollama/runners/cuda_v12/ollama_llama_server --model /root/.ollama/models/blobs/{blob}"
        f" --ctx-size 8192 --batch-size 512 --embedding --n-gpu-layers {layers} --threads 8"
        f" --parallel 4 --port {port}"
    )
    out = [
        Line(
            "ollama",
            start,
            slog_line(
                start,
                "INFO",
                "sched.go:714",
                "new model will fit in available VRAM in single GPU, loading",
                model=f"/root/.ollama/models/blobs/{blob}",
                gpu=GPU_ID,
                parallel=4,
                available=23705395200,
                required="19.8 GiB" if model == MODEL_BIG else "6.2 GiB",
            ),
        ),
        Line(
            "ollama",
            _tick(start, 31),
            slog_line(_tick(start, 31), "INFO", "server.go:388", "starting llama server", cmd=cmd),
        ),
        Line(
            "ollama",
            _tick(start, 32),
            slog_line(
                _tick(start, 32), "INFO", "sched.go:449", "loaded runners", count=len(story.loaded) + 1
            ),
        ),
        Line(
            "ollama",
            _tick(start, 33),
            slog_line(
                _tick(start, 33), "INFO", "server.go:587", "waiting for llama runner to start responding"
            ),
        ),
        Line(
            "ollama",
            _tick(start, 290),
            slog_line(
                _tick(start, 290),
                "INFO",
                "server.go:621",
                "waiting for server to become available",
                status="llm server loading model",
            ),
        ),
    ]
    out += [Line("ollama", _tick(start, 300), text) for text in llm_load_print_meta(model)]
    out.append(
        Line(
            "ollama",
            when,
            slog_line(when, "INFO", "server.go:626", f"llama runner started in {seconds:.2f} seconds"),
            "model_load",
        )
    )
    story.loaded.add(model)
    return out


def runner_timeout_lines(story: Story, when: datetime, model: str) -> list[Line]:
    """The 5-minute OLLAMA_LOAD_TIMEOUT expires: the runner never came up."""
    blob = BLOB_BIG if model == MODEL_BIG else BLOB_SMALL
    story.loaded.discard(model)
    return [
        Line(
            "ollama",
            _tick(when, -250),
            slog_line(
                _tick(when, -250),
                "WARN",
                "sched.go:646",
                "gpu VRAM usage didn't recover within timeout",
                seconds=5.0 + story.rng.random() / 2,
                model=f"/root/.ollama/models/blobs/{blob}",
            ),
            "timeout:vram_recovery",
        ),
        Line(
            "ollama",
            when,
            slog_line(
                when,
                "ERROR",
                "sched.go:455",
                "error loading llama server",
                error="timed out waiting for llama runner to start - progress 0.00 - ",
            ),
            "timeout:runner_start",
        ),
    ]


def _timings(story: Story, when: datetime, seconds: float, model: str) -> list[Line]:
    rng = story.rng
    prompt_n = rng.randint(18, 900)
    eval_n = rng.randint(40, 700)
    prompt_ms = round(seconds * 1000 * rng.uniform(0.05, 0.2), 2)
    eval_ms = round(max(seconds * 1000 - prompt_ms, 50.0), 2)
    at = _tick(when, -2)
    if story.timing_style == "llama_print_timings":
        load_ms = 5650.0 if model == MODEL_SMALL else 38200.0
        texts = llama_print_timings(load_ms, prompt_ms, prompt_n, eval_ms, eval_n)
    else:
        story.task += rng.randint(3, 9)
        prefixed = rng.random() < 0.5
        texts = server_timings(story.task, prompt_ms, prompt_n, eval_ms, eval_n, prefixed=prefixed)
    # One timing block is one inference event; its `load time` repeats the load Ollama already logged
    # (`llama runner started in`), so it is no model load of its own. The other lines are the block's.
    tags = ["inference"] + [""] * (len(texts) - 1)
    return [Line("ollama", at, text, tag) for text, tag in zip(texts, tags, strict=True)]


def exchange(story: Story, phase: Phase, progress: float, when: datetime) -> list[Line]:
    """One client interaction, rendered in every log that would see it at ``when``.

    ``progress`` (0..1) is how far into the phase we are; the slow phase uses it
    to let latencies climb from seconds to minutes.
    """
    rng = story.rng
    roll = rng.random()
    model = MODEL_BIG if phase == "slow" and rng.random() < 0.3 else MODEL_SMALL
    if roll < 0.22:
        return _owui_chat(story, phase, progress, when, model)
    if roll < 0.42:
        return _deepchat_chat(story, phase, progress, when, model)
    if roll < 0.56:
        return _script_call(story, phase, progress, when, model)
    return _polling(story, when)


def _gin_ns(rng: random.Random, seconds: float) -> int:
    return int(seconds * NS) + rng.randint(0, 999)


def _owui_chat(story: Story, phase: Phase, progress: float, when: datetime, model: str) -> list[Line]:
    rng = story.rng
    port = rng.randint(40000, 60999)
    user = f"10.0.4.{rng.randint(10, 80)}"
    if phase == "timeouts":
        ns = 300 * NS + rng.randint(0, 900_000_000)
        return [
            Line("ollama", when, gin_line(when, 500, ns, OWUI_IP, "POST", "/api/chat"), "request:500"),
            Line(
                "openwebui",
                _tick(when, 3),
                loguru_line(
                    _tick(when, 3),
                    "ERROR",
                    "open_webui.routers.ollama:send_post_request:161",
                    f"Connection error: 500, message='Internal Server Error', url='http://ollama:11434/api/chat'"
                    f" model={model}",
                ),
                "error",
            ),
            Line(
                "openwebui",
                _tick(when, 4),
                owui_access(story, _tick(when, 4), f"{user}:{port}", "POST", "/api/chat/completions", 500),
                "request:500",
            ),
        ]
    seconds = chat_seconds(rng, phase, progress)
    out = []
    if rng.random() < 0.15:
        out += _timings(story, when, seconds, model)
    out.append(
        Line(
            "ollama",
            when,
            gin_line(when, 200, _gin_ns(rng, seconds), OWUI_IP, "POST", "/api/chat"),
            "request:200",
        )
    )
    at = _tick(when, 2)
    out.append(
        Line(
            "openwebui",
            at,
            owui_access(story, at, f"{user}:{port}", "POST", "/api/chat/completions", 200),
            "request:200",
        )
    )
    if rng.random() < 0.4:
        chat = f"{rng.getrandbits(32):08x}-{rng.getrandbits(16):04x}-4{rng.getrandbits(12):03x}"
        at = _tick(at, 40)
        out.append(
            Line(
                "openwebui",
                at,
                owui_access(story, at, f"{user}:{port}", "POST", f"/api/v1/chats/{chat}", 200),
                "request:200",
            )
        )
    return out


def _deepchat_chat(story: Story, phase: Phase, progress: float, when: datetime, model: str) -> list[Line]:
    rng = story.rng
    client = f"10.0.4.{rng.randint(10, 80)}"
    if phase == "timeouts":
        # DeepChat gives up after 120 s; nginx logs 499, Ollama sees the client go away.
        ns = 120 * NS + rng.randint(1_000_000, 40_000_000)
        return [
            Line(
                "deepchat",
                when,
                logfmt_line(
                    when,
                    "error",
                    "Failed to stream response from Ollama",
                    model=model,
                    error="context deadline exceeded",
                ),
                "timeout:stream",
            ),
            Line(
                "nginx_access",
                when,
                nginx_access_line(when, client, "POST", "/api/chat", 499, 0, DEEPCHAT_UA, ns / NS),
                "request:499",
            ),
            Line(
                "ollama",
                _tick(when, 1),
                slog_line(
                    _tick(when, 1),
                    "INFO",
                    "server.go:700",
                    "aborting completion request due to client closing the connection",
                ),
            ),
            Line(
                "ollama",
                _tick(when, 1),
                gin_line(_tick(when, 1), 499, ns, GATEWAY_IP, "POST", "/api/chat"),
                "request:499",
            ),
        ]
    seconds = chat_seconds(rng, phase, progress)
    ns = _gin_ns(rng, seconds)
    out = []
    if rng.random() < 0.15:
        out += _timings(story, when, seconds, model)
    if rng.random() < 0.06:
        conn = story.next_conn()
        out.append(
            Line(
                "nginx_error",
                when,
                nginx_error_line(
                    when,
                    "warn",
                    conn,
                    "an upstream response is buffered to a temporary file "
                    f"/var/cache/nginx/proxy_temp/{conn % 10}/{conn % 97:02d}/00000{conn:05d}"
                    " while reading upstream",
                    client=client,
                    method="POST",
                    path="/api/chat",
                    upstream="http://127.0.0.1:11434/api/chat",
                ),
            )
        )
    out += _proxied_ok(when, ns, client, "/api/chat", rng.randint(900, 9000), DEEPCHAT_UA, seconds + 0.001)
    if phase == "slow" and seconds > 30:
        out.append(
            Line(
                "deepchat",
                _tick(when, 2),
                logfmt_line(
                    _tick(when, 2),
                    "warn",
                    "slow response from provider",
                    provider="ollama",
                    model=model,
                    first_token_after=f"{seconds * 0.8:.1f}s",
                ),
            )
        )
    out.append(
        Line(
            "deepchat",
            _tick(when, 3),
            logfmt_line(
                _tick(when, 3),
                "info",
                "chat completion",
                model=model,
                status=200,
                duration=f"{seconds * 1000 + 4.21:.2f}ms",
            ),
            "request:200",
        )
    )
    return out


def _script_call(story: Story, phase: Phase, progress: float, when: datetime, model: str) -> list[Line]:
    rng = story.rng
    client = f"10.0.7.{rng.randint(2, 9)}"
    if rng.random() < 0.3:
        path, seconds = "/api/embed", rng.uniform(0.02, 0.4)
        if phase == "timeouts":
            seconds = rng.uniform(0.3, 2.0)
    else:
        path = "/api/generate"
        seconds = chat_seconds(rng, phase, progress)
        if phase == "timeouts":
            # nginx's proxy_read_timeout (300 s) fires; Ollama fails the request too.
            conn = story.next_conn()
            ns = 300 * NS + rng.randint(2_000_000, 9_000_000)
            return [
                Line(
                    "nginx_error",
                    when,
                    nginx_error_line(
                        when,
                        "error",
                        conn,
                        "upstream timed out (110: Connection timed out)"
                        " while reading response header from upstream",
                        client=client,
                        method="POST",
                        path=path,
                        upstream=f"http://127.0.0.1:11434{path}",
                    ),
                    "timeout:upstream",
                ),
                Line(
                    "nginx_access",
                    when,
                    nginx_access_line(when, client, "POST", path, 504, 562, SCRIPT_UA, ns / NS),
                    "request:504",
                ),
                Line(
                    "ollama",
                    _tick(when, 2),
                    gin_line(_tick(when, 2), 500, ns + 2_000_000, GATEWAY_IP, "POST", path),
                    "request:500",
                ),
            ]
    ns = _gin_ns(rng, seconds)
    return _proxied_ok(when, ns, client, path, rng.randint(300, 40000), SCRIPT_UA, ns / NS + 0.0005)


def _proxied_ok(when: datetime, ns: int, client: str, path: str, size: int, agent: str,
                request_time: float) -> list[Line]:
    """A POST that went through nginx to Ollama and succeeded: Ollama's GIN line, then nginx's a ms later."""
    return [
        Line("ollama", when, gin_line(when, 200, ns, GATEWAY_IP, "POST", path), "request:200"),
        Line(
            "nginx_access",
            _tick(when, 1),
            nginx_access_line(_tick(when, 1), client, "POST", path, 200, size, agent, request_time),
            "request:200",
        ),
    ]


def _polling(story: Story, when: datetime) -> list[Line]:
    """Background chatter: Open WebUI refreshing models, health checks, ``ollama ps``."""
    rng = story.rng
    roll = rng.random()
    fast = rng.randint(15_000, 900_000)
    if roll < 0.45:
        port = rng.randint(40000, 60999)
        user = f"10.0.4.{rng.randint(10, 80)}"
        path = rng.choice(
            ["/api/models", "/api/config", "/api/v1/chats/?page=1", "/api/v1/users/user/settings"]
        )
        out = [Line("ollama", when, gin_line(when, 200, fast, OWUI_IP, "GET", "/api/tags"), "request:200")]
        if story.owui_plain and path == "/api/models":
            out.append(Line("openwebui", _tick(when, 4), "INFO:apps.ollama.main:get_all_models()"))
        out.append(
            Line(
                "openwebui",
                _tick(when, 5),
                owui_access(story, _tick(when, 5), f"{user}:{port}", "GET", path, 200),
                "request:200",
            )
        )
        return out
    if roll < 0.65:
        return [
            Line(
                "ollama", when, gin_line(when, 200, fast // 10, OWUI_IP, "GET", "/api/version"), "request:200"
            )
        ]
    if roll < 0.8:
        return [
            Line("ollama", when, gin_line(when, 200, fast // 20, "127.0.0.1", "HEAD", "/"), "request:200"),
            Line(
                "ollama",
                _tick(when, 1),
                gin_line(_tick(when, 1), 200, fast, "127.0.0.1", "GET", "/api/ps"),
                "request:200",
            ),
        ]
    if roll < 0.9:
        client = f"10.0.7.{rng.randint(2, 9)}"
        return [
            Line("ollama", when, gin_line(when, 200, fast, GATEWAY_IP, "GET", "/api/tags"), "request:200"),
            Line(
                "nginx_access",
                _tick(when, 1),
                nginx_access_line(_tick(when, 1), client, "GET", "/api/tags", 200, 1337, CURL_UA, 0.001),
                "request:200",
            ),
        ]
    if roll < 0.95:
        return [
            Line(
                "deepchat",
                when,
                logfmt_line(when, "info", "provider models refreshed", provider="ollama", count=4),
            )
        ]
    return [
        Line(
            "ollama",
            when,
            gin_line(when, 404, fast, GATEWAY_IP, "GET", "/api/show?name=mistral"),
            "request:404",
        )
    ]


# ---------------------------------------------------------------- live demo


def phase_at(elapsed: float) -> tuple[Phase, float]:
    """Where the demo cycle is after ``elapsed`` seconds: the phase and progress in it."""
    total = sum(seconds for _, seconds in DEMO_CYCLE)
    offset = elapsed % total
    for phase, seconds in DEMO_CYCLE:
        if offset < seconds:
            return phase, offset / seconds
        offset -= seconds
    return DEMO_CYCLE[-1][0], 1.0


def demo_lines(story: Story, phase: Phase, progress: float, entered: bool, when: datetime) -> list[Line]:
    """Lines for one demo step, every one stamped ``when`` (the demo's 'now')."""
    out: list[Line] = []
    if entered and phase == "slow":
        out += model_load_lines(story, when, MODEL_BIG, 38.2)
    if entered and phase == "recovery":
        story.timing_style = "server"
        out += startup_lines(when, "0.4.7")
        out += model_load_lines(story, when, MODEL_SMALL, 6.12)
    if entered and phase == "normal":
        story.timing_style = "llama_print_timings"
    if phase == "timeouts" and story.rng.random() < 0.05:
        out += runner_timeout_lines(story, when, MODEL_SMALL)
    out += exchange(story, phase, progress, when)
    # The builders stamp some lines a few ms before/after ``when``; the live demo
    # stamps everything exactly ``now`` so tests can compare with the clock.
    return [_restamp(line, when) for line in out]


def _restamp(line: Line, when: datetime) -> Line:
    if line.when == when:
        return line
    return Line(line.file, when, _replace_time(line.text, line.when, when), line.tag)


def _replace_time(text: str, old: datetime, new: datetime) -> str:
    for fmt in (iso_ms, gin_time, nginx_access_time, nginx_error_time, loguru_time):
        before = fmt(old)
        if before in text:
            return text.replace(before, fmt(new), 1)
    return text


def run_demo(
    directory: Path,
    *,
    rate: float = 5.0,
    stop: threading.Event | None = None,
    clock: Callable[[], float] = time.time,
    seed: int = 0,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Append the samples' story to log files under ``directory`` until ``stop`` is set.

    About ``rate`` lines per second in total, stamped with ``clock()``; phases
    cycle normal → slow → timeouts → recovery every five minutes so dashboards
    and alerts have something to show.  ``clock`` and ``sleep`` are injectable
    so tests run the loop without waiting.
    """
    if rate <= 0:
        raise ValueError("rate must be positive")
    stop = stop or threading.Event()
    story = Story(random.Random(seed))
    handles = {}
    try:
        for key, rel in FILES.items():
            path = directory / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            handles[key] = path.open("a", encoding="utf-8")
        start = clock()
        due = start
        last: Phase | None = None
        while not stop.is_set():
            now = clock()
            if now < due:
                sleep(due - now)
                continue
            phase, progress = phase_at(now - start)
            when = datetime.fromtimestamp(now, UTC)
            lines = demo_lines(story, phase, progress, phase != last, when)
            last = phase
            for line in lines:
                handles[line.file].write(line.text + "\n")
            for handle in handles.values():
                handle.flush()
            due = max(due, now - 1.0) + len(lines) / rate
    finally:
        for handle in handles.values():
            handle.close()
