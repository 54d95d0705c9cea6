"""The web server end to end: examples/http booted with `unilang run --forward
tcp:PORT:80`, reached from the host with Python's http.client, raw sockets
and curl; and the image's size without its sealed files.

One guest serves the whole module (a module fixture); every loop is bounded
in count and time, and the guest is stopped (SIGTERM to `unilang run`, which
stops QEMU) and reaped when the module ends."""

from __future__ import annotations

import http.client
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Iterator

import pytest

from support import ROOT, needs_qemu, needs_tools, unilang
from unilang.sealed import content_type

EXAMPLE = ROOT / "examples" / "http"
WWW = EXAMPLE / "www"
TIMEOUT = 90.0  # seconds for any one request: the machine may be loaded

pytestmark = [needs_tools, needs_qemu]


def free_tcp_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def www_files() -> dict[str, bytes]:
    return {p.relative_to(WWW).as_posix(): p.read_bytes() for p in sorted(WWW.rglob("*"))
            if p.is_file() and not p.name.startswith(".")}


class Guest:
    def __init__(self, proc: subprocess.Popen[str], port: int) -> None:
        self.proc = proc
        self.port = port

    def conn(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=TIMEOUT)

    def raw(self) -> socket.socket:
        s = socket.create_connection(("127.0.0.1", self.port), timeout=TIMEOUT)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return s


@pytest.fixture(scope="module")
def guest(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Guest]:
    out = tmp_path_factory.mktemp("http") / "out"
    port = free_tcp_port()
    proc = subprocess.Popen(
        # the accelerator `unilang run` chooses (KVM where QEMU can run a guest
        # with it, TCG otherwise); UNILANG_TEST_HTTP_ACCEL=tcg|kvm pins one
        [sys.executable, "-m", "unilang", "run", str(EXAMPLE / "http.uni"), "-o", str(out),
         "--timeout", "900", "--accel", os.environ.get("UNILANG_TEST_HTTP_ACCEL", "auto"), "--forward", f"tcp:{port}:80"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # slirp accepts on the host at once; the guest answers once it is up
        deadline = time.monotonic() + 240
        up = False
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                c.request("HEAD", "/")
                up = c.getresponse().status == 200
                c.close()
            except (OSError, http.client.HTTPException):
                time.sleep(0.3)
            if up:
                break
        if not up:
            proc.kill()
            o, e = proc.communicate()
            pytest.fail(f"the guest never answered:\n{o}\n{e}")
        yield Guest(proc, port)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            o, e = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            o, e = proc.communicate()
        assert "http: serving www/" in o, (o, e)


def get(g: Guest, path: str, method: str = "GET",
        headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    c = g.conn()
    try:
        c.request(method, path, headers=headers or {})
        r = c.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        c.close()


def exchange(g: Guest, data: bytes, want_close: bool = True) -> bytes:
    """Send raw bytes, read until the server closes (or TIMEOUT)."""
    with g.raw() as s:
        s.sendall(data)
        chunks = []
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            try:
                b = s.recv(65536)
            except socket.timeout:
                break
            if not b:
                break
            chunks.append(b)
        return b"".join(chunks)


def read_response(f: object) -> tuple[int, dict[str, str], bytes]:
    """One response from a socket's file object (Content-Length framed)."""
    status_line = f.readline()  # type: ignore[attr-defined]
    assert status_line.startswith(b"HTTP/1.1 "), status_line
    status = int(status_line.split()[1])
    headers = {}
    while True:
        line = f.readline()  # type: ignore[attr-defined]
        if line in (b"\r\n", b""):
            break
        k, v = line.decode().split(":", 1)
        headers[k.strip().lower()] = v.strip()
    body = f.read(int(headers["content-length"]))  # type: ignore[attr-defined]
    return status, headers, body


# ------------------------------------------------------------ http.client

def test_index_is_served_exactly(guest: Guest) -> None:
    status, headers, body = get(guest, "/")
    assert status == 200
    assert headers["content-type"] == "text/html"
    assert body == (WWW / "index.html").read_bytes()
    assert headers["content-length"] == str(len(body))


def test_every_file_byte_identical_with_its_type(guest: Guest) -> None:
    files = www_files()
    assert any(not content_type(p).startswith("text/") for p in files)  # a binary file
    # the picture is larger than tcp's send buffer (the example sets it): streamed
    assert max(len(b) for b in files.values()) > send_buffer()
    for rel, data in files.items():
        status, headers, body = get(guest, "/" + rel)
        assert (status, headers["content-type"], body) == (200, content_type(rel), data), rel


def test_missing_path_is_404(guest: Guest) -> None:
    for path in ["/nope.html", "/index.htm", "/www/index.html", "/../index.html",
                 "/index.html/", "/%41"]:
        status, headers, body = get(guest, path)
        assert status == 404, path
        assert body == b"404 Not Found\n"


def test_head_returns_headers_only(guest: Guest) -> None:
    raw = exchange(guest, b"HEAD /logo.png HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    head, _, rest = raw.partition(b"\r\n\r\n")
    assert rest == b""
    assert head.startswith(b"HTTP/1.1 200 OK\r\n")
    assert f"Content-Length: {len((WWW / 'logo.png').read_bytes())}".encode() in head
    assert b"Content-Type: image/png" in head
    status, headers, body = get(guest, "/missing", "HEAD")
    assert (status, body) == (404, b"")
    assert headers["content-length"] == str(len(b"404 Not Found\n"))


def test_overlong_request_line_is_414(guest: Guest) -> None:
    raw = exchange(guest, b"GET /" + b"a" * 2000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    assert raw.startswith(b"HTTP/1.1 414 URI Too Long\r\n"), raw[:100]
    assert b"Connection: close\r\n" in raw
    # http.client too
    status, headers, _ = get(guest, "/" + "b" * 1100)
    assert status == 414 and headers["connection"] == "close"
    # exactly at the limit (1024 bytes of request line) is not too long: 404
    target = "/" + "c" * (1024 - len("GET / HTTP/1.1"))
    assert len(f"GET {target} HTTP/1.1") == 1024
    assert get(guest, target)[0] == 404


def send_buffer() -> int:
    """tcp.send_buffer as the example resolves it."""
    import json

    r = unilang("resolve", str(EXAMPLE / "http.uni"), "-b", "kvm", "--format", "json")
    doc = json.loads(r.stdout)
    tcp = next(lib for lib in doc["libraries"] if lib["name"] == "tcp")
    return int(next(p["value"] for p in tcp["params"] if p["name"] == "send_buffer"))


def small_files() -> dict[str, bytes]:
    """The files that fit one tcp send buffer (8 KiB here): the 1,000 and 50 x 10
    loops use these, so that their time is the server's per-request work;
    the larger picture, streamed over several windows, is fetched by the
    other tests (each such fetch is several round trips of slirp)."""
    return {k: v for k, v in www_files().items() if len(v) <= 8192}


def test_keep_alive_1000_sequential_requests(guest: Guest) -> None:
    files = small_files()
    names = sorted(files)
    c = guest.conn()
    try:
        for i in range(1000):
            rel = names[i % len(names)]
            c.request("GET", "/" + rel)
            r = c.getresponse()
            assert (r.status, r.read()) == (200, files[rel]), i
            assert not r.will_close
        sock = c.sock
        assert sock is not None
    finally:
        c.close()


def test_50_concurrent_connections_10_requests_each(guest: Guest) -> None:
    """50 connections open at once, each asking 10 requests while the others
    ask theirs.  The connections are opened one after another: QEMU's user
    networking listens on the forwarded port with a backlog of 1 (`ss -ltn`
    shows it), so 50 simultaneous connects overflow the host's accept queue,
    the host drops SYNs and the clients back off exponentially in lock step;
    on a loaded machine 9-12 of them did not get through within 90 s (the
    stall once recorded under issue 12, read from a packet capture: the guest
    answered every SYN that reached it).  docs/network.md has the details."""
    files = small_files()
    names = sorted(files)
    results: list[int] = []
    errors: list[str] = []
    lock = threading.Lock()
    connecting = threading.Lock()  # one connect in flight at a time
    # every client connected (or failed to) before any request: the 50 and this thread
    ready = threading.Barrier(51, timeout=300)

    def client(n: int) -> None:
        ok = 0
        phase = "connect"
        try:
            c = guest.conn()
            try:
                with connecting:
                    c.connect()
            finally:
                ready.wait()
            phase = "requests"
            for i in range(10):
                rel = names[(n + i) % len(names)]
                c.request("GET", "/" + rel)
                r = c.getresponse()
                if r.status == 200 and r.read() == files[rel]:
                    ok += 1
            c.close()
        except Exception as exc:  # reported below, with the others
            with lock:
                errors.append(f"client {n} ({phase}): {exc!r}")
        with lock:
            results.append(ok)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(50)]
    for t in threads:
        t.start()
    ready.wait()
    for t in threads:
        t.join(300)
    assert not any(t.is_alive() for t in threads)
    assert errors == []
    assert results == [10] * 50


# ------------------------------------------------------------ the protocol, raw

def test_pipelined_requests_are_answered_in_order(guest: Guest) -> None:
    files = www_files()
    order = ["index.html", "logo.png", "nope", "style.css", "index.html"] * 4
    data = b"".join(b"GET /%s HTTP/1.1\r\nHost: x\r\n\r\n" % p.encode() for p in order)
    with guest.raw() as s:
        s.sendall(data)
        f = s.makefile("rb")
        for p in order:
            status, headers, body = read_response(f)
            if p in files:
                assert (status, body) == (200, files[p]), p
            else:
                assert status == 404


def test_request_split_over_many_segments(guest: Guest) -> None:
    req = b"GET /style.css HTTP/1.1\r\nHost: example\r\nUser-Agent: slow\r\n\r\n"
    with guest.raw() as s:
        for i in range(len(req)):  # one byte a segment (TCP_NODELAY, a pause between)
            s.sendall(req[i:i + 1])
            time.sleep(0.005)
        status, _, body = read_response(s.makefile("rb"))
    assert (status, body) == (200, (WWW / "style.css").read_bytes())


@pytest.mark.parametrize("request_bytes, status", [
    (b"GET / HTTP/1.1\r\n\r\n", 400),                          # no Host
    (b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),     # two Hosts
    (b"GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400),               # two spaces
    (b"GET / HTTP/1.1 \r\nHost: a\r\n\r\n", 400),
    (b"GET /\r\nHost: a\r\n\r\n", 400),                         # HTTP/0.9
    (b"GET / HTTP/1.1\r\nHost a\r\n\r\n", 400),                 # no colon
    (b"GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400),               # space before the colon
    (b"GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n", 400),     # obsolete folding
    (b"GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n", 400),             # a bare CR
    (b"GET / HTTP/1.1\r\nHost: a\x00\r\n\r\n", 400),            # NUL in a value
    (b"GET /%zz HTTP/1.1\r\nHost: a\r\n\r\n", 400),             # bad escape
    (b"GET index.html HTTP/1.1\r\nHost: a\r\n\r\n", 400),       # not origin form
    (b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: x\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello", 413),
    (b"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 413),
    (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc", 405),
    (b"GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505),
    (b"GET / HTTP/1.1\r\nHost: a\r\nX: " + b"y" * 5000 + b"\r\n\r\n", 431),
    (b"GET / HTTP/1.1\r\n" + b"X-A: b\r\n" * 600 + b"\r\n", 431),
])
def test_bad_requests_get_their_status_and_close(guest: Guest, request_bytes: bytes,
                                                  status: int) -> None:
    raw = exchange(guest, request_bytes)
    assert raw.startswith(b"HTTP/1.1 %d " % status), raw[:200]
    assert b"Connection: close\r\n" in raw
    if status == 405:
        assert b"Allow: GET, HEAD\r\n" in raw


def test_405_keeps_the_connection(guest: Guest) -> None:
    with guest.raw() as s:
        s.sendall(b"DELETE /index.html HTTP/1.1\r\nHost: a\r\n\r\n"
                  b"GET /index.html HTTP/1.1\r\nHost: a\r\n\r\n")
        f = s.makefile("rb")
        status, headers, _ = read_response(f)
        assert (status, headers["allow"]) == (405, "GET, HEAD")
        assert read_response(f)[0] == 200


def test_connection_close_and_http10(guest: Guest) -> None:
    index = (WWW / "index.html").read_bytes()
    raw = exchange(guest, b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
                          b"GET /style.css HTTP/1.1\r\nHost: a\r\n\r\n")
    assert raw.count(b"HTTP/1.1 ") == 1 and raw.endswith(index)  # the second is not answered
    raw = exchange(guest, b"GET / HTTP/1.0\r\n\r\n")                # 1.0: closes, no Host needed
    assert raw.startswith(b"HTTP/1.1 200 OK\r\n") and raw.endswith(index)
    with guest.raw() as s:                                          # 1.0 keep-alive
        s.sendall(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
                  b"GET /style.css HTTP/1.0\r\n\r\n")
        f = s.makefile("rb")
        status, headers, body = read_response(f)
        assert (status, headers["connection"], body) == (200, "keep-alive", index)
        status, headers, _ = read_response(f)
        assert (status, headers["connection"]) == (200, "close")


def test_targets_are_decoded(guest: Guest) -> None:
    index = (WWW / "index.html").read_bytes()
    for target in [b"/%69ndex.html", b"/index.html?x=1&y=%zz", b"http://example/index.html",
                   b"http://example", b"/?q"]:
        raw = exchange(guest, b"GET " + target + b" HTTP/1.1\r\nHost: a\r\nConnection: close"
                                                 b"\r\n\r\n")
        assert raw.startswith(b"HTTP/1.1 200 OK\r\n") and raw.endswith(index), target


def test_hostile_bytes_then_still_serving(guest: Guest) -> None:
    """Seeded random and mangled requests on 40 connections: each ends with an
    error status or a close, never a hang; then the server answers normally."""
    rng = random.Random(12)
    good = b"GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n"
    for i in range(40):
        kind = i % 4
        if kind == 0:
            data = bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 3000)))
        elif kind == 1:
            b = bytearray(good * 3)
            for _ in range(rng.randint(1, 8)):
                b[rng.randrange(len(b))] = rng.getrandbits(8)
            data = bytes(b)
        elif kind == 2:
            data = good[:rng.randrange(len(good))]   # cut short, then the client closes
        else:
            data = b"\r\n" * rng.randint(1, 3000) + good
        with guest.raw() as s:
            try:
                s.sendall(data)
                s.shutdown(socket.SHUT_WR)
                deadline = time.monotonic() + TIMEOUT
                while time.monotonic() < deadline and s.recv(65536):
                    pass
            except OSError:
                pass  # a reset is an answer too
    status, _, body = get(guest, "/")
    assert (status, body) == (200, (WWW / "index.html").read_bytes())


# ------------------------------------------------------------ curl

def test_curl_fetches_every_file(guest: Guest, tmp_path: Path) -> None:
    curl = shutil.which("curl")
    if curl is None:
        pytest.skip("curl is not installed (.ci/sysdeps lists it)")
    for rel, data in www_files().items():
        out = tmp_path / "body"
        r = subprocess.run([curl, "-sS", "--max-time", "30", "-o", str(out), "-w",
                            "%{http_code} %{content_type}", f"http://127.0.0.1:{guest.port}/{rel}"],
                           capture_output=True, text=True, timeout=60, check=False)
        assert r.stdout == f"200 {content_type(rel)}", (rel, r.stderr)
        assert out.read_bytes() == data
    r = subprocess.run([curl, "-sS", "--max-time", "30", "-o", str(tmp_path / "i"), "-w",
                        "%{http_code} %{content_type}", f"http://127.0.0.1:{guest.port}/"],
                       capture_output=True, text=True, timeout=60, check=False)
    assert r.stdout == "200 text/html"
    assert (tmp_path / "i").read_bytes() == (WWW / "index.html").read_bytes()
    h = subprocess.run([curl, "-sS", "--max-time", "30", "-I",
                        f"http://127.0.0.1:{guest.port}/missing"],
                       capture_output=True, timeout=60, check=False)
    assert h.stdout.startswith(b"HTTP/1.1 404 Not Found\r\n")
    assert h.stdout.endswith(b"\r\n\r\n") and h.stdout.count(b"\r\n\r\n") == 1  # headers only


# ------------------------------------------------------------ the image

def test_image_without_its_files_is_at_most_64_KiB(tmp_path: Path) -> None:
    """The example built from a copy whose www/ is empty (only a hidden
    .gitkeep, which is not sealed): everything but the sealed files."""
    app = tmp_path / "http"
    shutil.copytree(EXAMPLE, app, ignore=shutil.ignore_patterns("www"))
    (app / "www").mkdir()
    (app / "www" / ".gitkeep").write_bytes(b"")
    r = unilang("build", "http.uni", "-b", "kvm", "-o", "out", cwd=app)
    assert r.returncode == 0, r.stderr
    empty = (app / "out" / "http.elf").stat().st_size
    assert empty <= 64 * 1024, empty
    # the full example is that plus its files (and their table and alignment)
    r = unilang("build", str(EXAMPLE / "http.uni"), "-b", "kvm", "-o", str(tmp_path / "full"))
    assert r.returncode == 0, r.stderr
    full = (tmp_path / "full" / "http.elf").stat().st_size
    files = sum(len(b) for b in www_files().values())
    # the files are the .unilang_files section: the table (40 bytes a file),
    # their bytes and paths, each file 16-byte aligned; empty in the bare image
    # (the image sizes differ by that give or take a page: the data segment's
    # file offset is page aligned)
    assert _section_size(app / "out" / "http.elf", ".unilang_files") == 0
    sealed = _section_size(tmp_path / "full" / "http.elf", ".unilang_files")
    n = len(www_files())
    assert files + 40 * n <= sealed <= files + 40 * n + (16 + 64) * n + 64
    assert full - empty <= sealed + 4096  # plus at most a page of the data segment's alignment
    print(f"http image: {empty} bytes without its files, {full} with {files} bytes of files")


def _section_size(elf: Path, name: str) -> int:
    import io

    from elftools.elf.elffile import ELFFile

    sec = ELFFile(io.BytesIO(elf.read_bytes())).get_section_by_name(name)
    assert sec is not None, name
    return int(sec.header.sh_size)
