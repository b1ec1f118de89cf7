"""No secret leaves the process, on any output path: a table of secret forms × every output.

The forms are what secret scanners look for (provider keys, JWTs, PEM blocks, HTTP credentials,
URL userinfo) and every spelling of a secret-named key (prefixed, header, URL-encoded, quoted with
spaces). Each form is written raw and inside an error line; the secret's value must appear in no
output: `parse`, `replay --format events|json|table|prom`, `--emit`, `run --output` and `/metrics`.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from logmetrics.parse.engine import Engine
from logmetrics.transforms.redact import MARKER, Redactor
from tests.conftest import run_cli
from tests.test_run_cli import Run, events, wait_until

# (a line holding a secret, the secret); the secrets are made up, shaped like the real ones.
FORMS: list[tuple[str, str]] = [
    ("Authorization: Bearer Zk9vYmFyLWJlYXJlci10b2tlbi0x", "Zk9vYmFyLWJlYXJlci10b2tlbi0x"),
    ("authorization: basic dXNlcjpodW50ZXIyaHVudGVyMg==", "dXNlcjpodW50ZXIyaHVudGVyMg=="),
    ("Proxy-Authorization: Basic cHJveHk6c2VjcmV0cHJveHkx", "cHJveHk6c2VjcmV0cHJveHkx"),
    ("GET /x Cookie: session=c00k1e5e55i0nv4lu3; theme=dark", "c00k1e5e55i0nv4lu3"),
    ("Set-Cookie: sid=5e7c00k1e9a8b7; Path=/; HttpOnly", "5e7c00k1e9a8b7"),
    ('{"cookie": "auth_sess=0p4qu3c00k13v4lu3"}', "0p4qu3c00k13v4lu3"),
    ("OPENAI_API_KEY=sk-proj-Ab12Cd34Ef56Gh78Ij90Kl12Mn34", "sk-proj-Ab12Cd34Ef56Gh78Ij90Kl12Mn34"),
    ("OPENAI_API_KEY=azure-0a1b2c3d4e5f60718293", "azure-0a1b2c3d4e5f60718293"),
    ("anthropic key sk-ant-api03-Zy98Xw76Vu54Ts32Rq10Po98", "sk-ant-api03-Zy98Xw76Vu54Ts32Rq10Po98"),
    ("HF_TOKEN=hf_AbCdEfGhIjKlMnOpQrStUvWxYz12", "hf_AbCdEfGhIjKlMnOpQrStUvWxYz12"),
    ("pulling with hf_ZyXwVuTsRqPoNmLkJiHgFeDcBa98 now", "hf_ZyXwVuTsRqPoNmLkJiHgFeDcBa98"),
    ("git clone https://ghp_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789@github.com/x/y",
     "ghp_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"),
    ("token github_pat_11ABCDEFG0abcdefghijklmnop_qrstuvwxyz", "github_pat_11ABCDEFG0abcdefghijklmnop_qrstuvwxyz"),
    ("gitlab glpat-AbCdEfGhIjKlMnOpQrSt", "glpat-AbCdEfGhIjKlMnOpQrSt"),
    ("slack xoxb-1234567890-0987654321-AbCdEfGhIjKl", "xoxb-1234567890-0987654321-AbCdEfGhIjKl"),
    ("post https://hooks.slack.com/services/T0ABC1234/B0DEF5678/aBcDeFgHiJkLmNoPqRsTuVwX", "aBcDeFgHiJkLmNoPqRsTuVwX"),
    ("maps key AIzaSyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q for geo", "AIzaSyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q"),
    ("oauth ya29.a0AfH6SMBx1y2z3A4b5C6d7E8f9G0h", "ya29.a0AfH6SMBx1y2z3A4b5C6d7E8f9G0h"),
    ("using AKIAIOSFODNN7EXAMPLE in us-east-1", "AKIAIOSFODNN7EXAMPLE"),
    ("temporary ASIAY34FZKBOKMUTVV7A session", "ASIAY34FZKBOKMUTVV7A"),
    ("aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
    ("export AWS_SECRET_ACCESS_KEY je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY",
     "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY"),
    ("charge with sk_live_4eC39HqLyjWDarjtT1zdp7dc", "sk_live_4eC39HqLyjWDarjtT1zdp7dc"),
    ("npm_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789 published", "npm_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"),
    ("jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.dBjftJeZ4CVPmB92K27uhbUJU1p1r", "eyJzdWIiOiIxMjM0In0"),
    ('{"private_key": "-----BEGIN PRIVATE KEY-----\\nMIIEvQIBADANBgkqhkiG9w0BAQEF\\n-----END PRIVATE KEY-----\\n"}',
     "MIIEvQIBADANBgkqhkiG9w0BAQEF"),
    ("proxy https://alice:pa55w0rd-proxy@proxy.lan:8080/ failed", "pa55w0rd-proxy"),
    ("connect redis://:r3d15p4ssw0rd@cache:6379/0", "r3d15p4ssw0rd"),
    ("dsn postgres://app:p@ss:w0rd99@db.lan/app", "p@ss:w0rd99"),
    ("DB_PASSWORD=dbpa55w0rd!x", "dbpa55w0rd!x"),
    ("env MYSQL_ROOT_PASSWORD=r00tpa55mysql", "r00tpa55mysql"),
    ("secret_key=flask-5ecret-k3y-value", "flask-5ecret-k3y-value"),
    ("private_key=pk_9f8e7d6c5b4a", "pk_9f8e7d6c5b4a"),
    ("GET /v1/models X-API-KEY: xak-91b2c3d4e5f6", "xak-91b2c3d4e5f6"),
    ("login pwd=pwdv4lu3x9", "pwdv4lu3x9"),
    ("Passwd: pa55wdv4lu3", "pa55wdv4lu3"),
    ("upstream auth=authv4lu3q8w7", "authv4lu3q8w7"),
    ("resume session_id=5e55i0n1d7788", "5e55i0n1d7788"),
    ("GET /api?api%5Fkey=urlenc0dedk3y&x=1", "urlenc0dedk3y"),
    ("form body user=bob&password%3Dformpa55w0rd", "formpa55w0rd"),
    ('{"password": "correct horse battery staple"}', "correct horse battery staple"),
    ("password='single quoted with spaces'", "single quoted with spaces"),
    ("oidc client_secret=0idc-cl1ent-5ecret", "0idc-cl1ent-5ecret"),
    ("GET /api/tags?token=qu3ryt0k3nv4l HTTP/1.1", "qu3ryt0k3nv4l"),
    ('level=error msg="login failed" password="two words"', "two words"),
    ('payload "{\\"api_key\\":\\"esc4p3dj50nk3y\\"}"', "esc4p3dj50nk3y"),
    ("credentials=cr3d5v4lu3", "cr3d5v4lu3"),
    ("gpg passphrase=p4ssphr4s3v4l", "p4ssphr4s3v4l"),
    ("x-auth-token: xauth7ok3nv4lu3", "xauth7ok3nv4lu3"),
]
PEM = ["loading key:", "-----BEGIN RSA PRIVATE KEY-----", "MIIEpAIBAAKCAQEA0pemb0dyl1ne0ne",
       "pemb0dyl1netw0Q2VydGlmaWNhdGVz", "-----END RSA PRIVATE KEY-----", "key loaded"]
PEM_SECRETS = ["MIIEpAIBAAKCAQEA0pemb0dyl1ne0ne", "pemb0dyl1netw0Q2VydGlmaWNhdGVz"]
SECRETS = [s for _, s in FORMS] + PEM_SECRETS


def test_the_table_is_large_enough() -> None:
    assert len(FORMS) + 1 >= 40


def log_text() -> str:
    out = []
    for i, (line, _) in enumerate(FORMS):
        out.append(line)
        out.append(f"2026-11-03T10:{i // 60:02d}:{i % 60:02d}.000Z level=error msg=\"request failed\" detail={line}")
    out += PEM
    return "\n".join(out) + "\n"


def assert_clean(where: str, text: str) -> None:
    leaked = [s for s in SECRETS if s in text]
    assert not leaked, f"{where} leaks {leaked}"


@pytest.mark.parametrize(("line", "secret"), FORMS)
def test_each_form_is_redacted_in_every_field(line: str, secret: str) -> None:
    events_ = Redactor()(Engine().parse_lines([line.encode()], "x.log"))
    assert len(events_) == 1
    assert_clean(line, json.dumps(events_[0]))
    assert MARKER in events_[0]["line"]


def test_a_pem_block_is_one_event_and_redacted() -> None:
    events_ = Redactor()(Engine().parse_lines([x.encode() for x in PEM], "x.log"))
    assert [e["line"][:31] for e in events_] == ["loading key:", PEM[1], "key loaded"]
    assert events_[1]["line"].endswith(PEM[4])
    assert_clean("pem", json.dumps(events_))


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("secrets")
    (d / "app.log").write_text(log_text())
    return d


def test_parse(logs: Path) -> None:
    r = run_cli("parse", stdin=(logs / "app.log").read_bytes())
    assert r.returncode == 0, r.stderr
    assert_clean("parse", r.stdout.decode())
    assert r.stdout.count(MARKER.encode()) >= len(FORMS)


@pytest.mark.parametrize("fmt", ["events", "json", "table", "prom"])
def test_replay_and_emit(logs: Path, tmp_path: Path, fmt: str) -> None:
    emit = tmp_path / "emit.jsonl"
    r = run_cli("replay", str(logs), "--format", fmt, "--emit", str(emit), "--no-progress", "--jobs", "1")
    assert r.returncode == 0, r.stderr
    assert_clean(f"replay --format {fmt}", r.stdout.decode())
    assert_clean("--emit", emit.read_text())


def test_summary_top_errors_of_every_form(tmp_path: Path) -> None:
    """The summary lists the top 10 error messages: replay the forms ten at a time."""
    for k in range(0, len(FORMS), 10):
        (tmp_path / "app.log").write_text("".join(f"ERROR {line}\n" for line, _ in FORMS[k:k + 10]))
        r = run_cli("replay", str(tmp_path / "app.log"), "--format", "json", "--no-progress")
        assert r.returncode == 0, r.stderr
        data = json.loads(r.stdout)
        messages = [e for a in data["apps"] for e in a["errors"]["top"]]
        assert sum(e["count"] for e in messages) == len(FORMS[k:k + 10])  # equal once redacted: one row
        assert_clean("summary errors", r.stdout.decode())


def test_run_output_and_metrics(tmp_path: Path) -> None:
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "app.log").write_text(log_text())
    r = Run(tmp_path)
    n = len(FORMS) * 2 + 3
    wait_until(lambda: len(events(tmp_path)) >= n, what="every event")
    status, metrics = r.get("/metrics")
    code, _ = r.stop()
    assert code == 0 and status == 200
    assert_clean("run --output", (tmp_path / "events.jsonl").read_text())
    assert_clean("/metrics", metrics.decode())
