"""The /metrics server cannot be held: many scrapes, idle and slow clients, garbage, all bounded."""

from __future__ import annotations

import concurrent.futures
import http.client
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from logmetrics.sinks.server import MetricsServer

RENDERS: list[float] = []


def render() -> bytes:
    RENDERS.append(time.monotonic())
    time.sleep(0.05)  # a render that takes a while, so concurrent scrapes overlap it
    return b"# TYPE up gauge\nup 1\n" * 1000


@pytest.fixture
def server() -> Iterator[MetricsServer]:
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)  # 500 idle clients + the server's ends
    if soft < 4096:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(4096, hard), hard))
    RENDERS.clear()
    s = MetricsServer("127.0.0.1:0", render, lambda: (True, {"status": "ok"}), timeout=2.0)
    yield s
    s.close()


def get(port: int, path: str = "/metrics", method: str = "GET", timeout: float = 10.0) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path)
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def test_200_concurrent_scrapes_all_answered_with_one_render(server: MetricsServer) -> None:
    with concurrent.futures.ThreadPoolExecutor(200) as pool:
        results = list(pool.map(lambda _: get(server.port), range(200)))
    assert [code for code, _ in results] == [200] * 200
    bad = [body[:80] for _, body in results if not body.startswith(b"# TYPE up gauge")]
    assert not bad, bad[:3]
    assert len(RENDERS) <= 3  # shared and cached, not one render per scrape


def test_500_idle_connections_cost_no_threads_and_block_no_scrape(server: MetricsServer) -> None:
    before = threading.active_count()
    idle = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(500)]
    try:
        time.sleep(0.2)
        assert threading.active_count() <= before + 1
        assert get(server.port, "/healthz", timeout=5)[0] == 200  # answered while 500 sit idle
    finally:
        for s in idle:
            s.close()


def test_idle_and_slow_clients_are_dropped_after_the_timeout(server: MetricsServer) -> None:
    s = socket.create_connection(("127.0.0.1", server.port))
    s.sendall(b"GET /metrics HTTP/1.1\r\n")  # ...and never finishes the request
    s.settimeout(5)
    t0 = time.monotonic()
    assert s.recv(100) == b""  # closed by the server
    assert 1.5 < time.monotonic() - t0 < 4.0
    s.close()


def test_a_tls_hello_or_garbage_gets_400_at_once(server: MetricsServer) -> None:
    for junk in (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 40 + b"\n", b"HELLO\r\n\r\n"):
        s = socket.create_connection(("127.0.0.1", server.port))
        s.settimeout(1.0)
        s.sendall(junk)
        assert s.recv(100).startswith(b"HTTP/1.1 400")
        s.close()


def test_head_and_methods(server: MetricsServer) -> None:
    code, body = get(server.port, method="HEAD")
    assert code == 200 and body == b""
    assert get(server.port, "/healthz", method="HEAD")[0] == 200
    assert get(server.port, "/metrics", method="POST")[0] == 405
    assert get(server.port, "/nope")[0] == 404


def test_gzip_when_asked(server: MetricsServer) -> None:
    import gzip

    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    conn.request("GET", "/metrics", headers={"Accept-Encoding": "gzip"})
    r = conn.getresponse()
    assert r.getheader("Content-Encoding") == "gzip"
    assert gzip.decompress(r.read()).startswith(b"# TYPE up gauge")
    conn.close()


def test_connections_beyond_the_limit_are_refused_not_queued() -> None:
    s = MetricsServer("127.0.0.1:0", render, lambda: (True, {}), timeout=2.0, max_connections=10)
    try:
        idle = [socket.create_connection(("127.0.0.1", s.port)) for _ in range(10)]
        time.sleep(0.1)
        extra = socket.create_connection(("127.0.0.1", s.port))
        extra.settimeout(2)
        try:
            assert extra.recv(10) == b""  # dropped at accept
        except ConnectionResetError:
            pass
        for c in idle:
            c.close()
        time.sleep(0.1)
        assert get(s.port, "/healthz")[0] == 200
    finally:
        s.close()
