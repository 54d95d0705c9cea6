"""stdlib/lib/http/src/http.c compiled for the host under AddressSanitizer and
UBSan, with tests/host_c/http_driver.c standing in for tcp, the sealed file
table and the clock (the convention of test_runtime_host.py): requests split
at every byte, pipelined, at the exact limits, slow clients, and thousands of
seeded hostile inputs, every one of them checked for memory errors.

The same server runs for real behind tcp in tests/test_http.py; here the
small limits (a 64-byte request line, 256 header bytes, 4 connections) make
every edge reachable in milliseconds."""

from __future__ import annotations

import random
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from support import library_folders

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc is needed")

PARAMS = {"PORT": 80, "MAX_REQUEST_LINE": 64, "MAX_HEADER_BYTES": 256, "MAX_CONNECTIONS": 4,
          "IDLE_TIMEOUT_MS": 1000}
BIG = bytes((i * 7 + 3) & 0xFF for i in range(20000))
FILES = {"/": b"<h1>hi</h1>\n", "/index.html": b"<h1>hi</h1>\n", "/style.css": b"p{}\n",
         "/dir/": b"<p>dir</p>\n", "/big.bin": BIG}


@pytest.fixture(scope="module")
def driver(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folders = library_folders()
    exe = tmp_path_factory.mktemp("http-host") / "http"
    incs = [f"-I{folders[n] / 'include'}" for n in
            ("files", "http", "tcp", "ethernet", "ipv4", "tsc-clock", "virtio-net")]
    defs = [f"-DUNILANG_PARAM_HTTP_{k}={v}" for k, v in PARAMS.items()]
    r = subprocess.run(["gcc", "-std=gnu11", "-O1", "-g", "-Wall", "-Wextra", "-Werror",
                        "-fsanitize=address,undefined", "-fno-sanitize-recover=all",
                        "-fno-omit-frame-pointer", *incs, *defs,
                        str(ROOT / "tests" / "host_c" / "http_driver.c"),
                        str(folders["http"] / "src" / "http.c"), "-o", str(exe)],
                       capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stderr
    return exe


class Run:
    def __init__(self, out: str) -> None:
        self.sent: dict[int, bytes] = {}
        self.events: list[tuple[str, int]] = []
        self.stats: dict[str, int] = {}
        ended: set[int] = set()  # handles http closed or reset, until tcp reuses them
        for line in out.splitlines():
            parts = line.split(" ")
            if parts[0] == "open":
                ended.discard(int(parts[1]))
            elif parts[0] == "send":
                c = int(parts[1])
                assert c not in ended, f"bytes sent on {c} after it was closed"
                self.sent[c] = self.sent.get(c, b"") + bytes.fromhex(parts[2])
            elif parts[0] in ("close", "abort"):
                self.events.append((parts[0], int(parts[1])))
                ended.add(int(parts[1]))
            elif parts[0] == "stats":
                self.stats = {k: int(v) for k, v in (p.split("=") for p in parts[1:])}


def run(driver: Path, ops: list[str]) -> Run:
    r = subprocess.run([str(driver)], input="\n".join(ops) + "\n", capture_output=True,
                       text=True, timeout=120, check=False)
    assert r.returncode == 0, r.stderr[-3000:]
    return Run(r.stdout)


def recv(c: int, data: bytes) -> str:
    return f"R {c} {data.hex()}"


def responses(stream: bytes, heads: list[bool] | None = None) -> list[tuple[int, dict[str, str], bytes]]:
    """Split a connection's bytes into (status, headers, body), Content-Length framed;
    ``heads[i]`` says that response i answered a HEAD (no body)."""
    out = []
    while stream:
        head, sep, stream = stream.partition(b"\r\n\r\n")
        assert sep, f"an unterminated response head: {head[:200]!r}"
        lines = head.decode("ascii").split("\r\n")
        m = re.fullmatch(r"HTTP/1\.1 (\d{3}) [A-Za-z ]+", lines[0])
        assert m, lines[0]
        headers = {}
        for h in lines[1:]:
            k, v = h.split(": ", 1)
            assert k not in headers
            headers[k] = v
        n = 0 if heads and heads[len(out)] else int(headers["Content-Length"])
        assert len(stream) >= n
        out.append((int(m.group(1)), headers, stream[:n]))
        stream = stream[n:]
    return out


def get(path: str, extra: str = "", method: str = "GET") -> bytes:
    return f"{method} {path} HTTP/1.1\r\nHost: h\r\n{extra}\r\n".encode()


# ------------------------------------------------------------ framing

def test_every_split_gives_the_same_answers(driver: Path) -> None:
    reqs = [("/", False), ("/big.bin", False), ("/nope", False), ("/style.css", True),
            ("/dir/", False), ("/index.html?x=%41", False)]
    stream = b"".join(get(p, method="HEAD" if h else "GET") for p, h in reqs)
    whole = run(driver, ["A 1", recv(1, stream)]).sent[1]
    got = responses(whole, [h for _, h in reqs])
    assert [s for s, _, _ in got] == [200, 200, 404, 200, 200, 200]
    assert got[1][2] == BIG and got[0][2] == FILES["/"] and got[4][2] == FILES["/dir/"]
    assert got[3][1]["Content-Length"] == "4" and got[3][2] == b""
    # one byte a segment, and random splits: the same bytes out
    assert run(driver, ["A 1"] + [recv(1, stream[i:i + 1]) for i in range(len(stream))]
               ).sent[1] == whole
    rng = random.Random(5)
    for _ in range(20):
        cuts = sorted(rng.sample(range(1, len(stream)), rng.randint(1, 12)))
        parts = [stream[a:b] for a, b in zip([0] + cuts, cuts + [len(stream)])]
        assert run(driver, ["A 1"] + [recv(1, p) for p in parts]).sent[1] == whole


def test_streaming_with_a_small_send_buffer(driver: Path) -> None:
    """tcp frees 100 bytes at a time: the rest of big.bin goes out on each writable."""
    ops = ["S 100", "A 1", recv(1, get("/big.bin") + get("/style.css"))]
    ops += ["W 1"] * 300
    r = run(driver, ops)
    got = responses(r.sent[1])
    assert [(s, b) for s, _, b in got] == [(200, BIG), (200, b"p{}\n")]
    # nothing is sent while tcp takes nothing; all of it after
    r = run(driver, ["S 0", "A 1", recv(1, get("/big.bin")), "W 1", "S 1000000", "W 1"])
    assert responses(r.sent[1])[0][2] == BIG


# ------------------------------------------------------------ limits

def test_request_line_limit_is_exact(driver: Path) -> None:
    ok = "/" + "a" * (64 - len("GET / HTTP/1.1"))
    assert len(f"GET {ok} HTTP/1.1") == 64
    r = run(driver, ["A 1", recv(1, get(ok))])
    assert responses(r.sent[1])[0][0] == 404 and r.events == []
    r = run(driver, ["A 1", recv(1, get(ok + "a"))])
    assert responses(r.sent[1])[0][0] == 414 and r.events == [("close", 1)]
    # no line end at all: 414 as soon as the 65th byte arrives
    r = run(driver, ["A 1", recv(1, b"G" * 65)])
    assert responses(r.sent[1])[0][0] == 414
    r = run(driver, ["A 1", recv(1, b"G" * 64)])
    assert r.sent == {}


def test_header_section_limit_is_exact(driver: Path) -> None:
    base = b"GET / HTTP/1.1\r\n"
    # header section: `Host: h\r\n`, `X: ...\r\n`, then `\r\n`: 256 bytes in all
    pad = 256 - len(b"Host: h\r\n") - len(b"X: \r\n") - 2
    r = run(driver, ["A 1", recv(1, base + b"Host: h\r\nX: " + b"y" * pad + b"\r\n\r\n")])
    assert responses(r.sent[1])[0][0] == 200
    r = run(driver, ["A 1", recv(1, base + b"Host: h\r\nX: " + b"y" * (pad + 1) + b"\r\n\r\n")])
    assert responses(r.sent[1])[0][0] == 431 and r.events == [("close", 1)]


def test_connections_beyond_the_table_get_503(driver: Path) -> None:
    r = run(driver, [f"A {c}" for c in range(5)] + [recv(c, get("/")) for c in range(5)])
    assert responses(r.sent[4])[0][0] == 503 and ("close", 4) in r.events
    assert all(responses(r.sent[c])[0][0] == 200 for c in range(4))
    # a freed slot serves again
    r = run(driver, [f"A {c}" for c in range(4)] + ["C 2", "A 9", recv(9, get("/"))])
    assert responses(r.sent[9])[0][0] == 200 and r.stats["refused"] == 0


def test_slow_clients(driver: Path) -> None:
    # idle: closed after idle_timeout_ms
    # (activity is stamped by the next sweep: `T 1` is that sweep)
    r = run(driver, ["A 1", "T 1", "T 500", "T 400"])
    assert r.events == [] and r.stats["idle"] == 0
    r = run(driver, ["A 1", "T 1", "T 500", "T 600"])
    assert r.events == [("close", 1)] and r.stats["idle"] == 1
    # a head trickling in, a byte every 400 ms, never completes: 408 after 1 s
    ops = ["A 1"] + [x for i in range(5) for x in (recv(1, b"GET / HTTP/1.1\r\n"[i:i + 1]), "T 400")]
    r = run(driver, ops)
    assert responses(r.sent[1])[0][0] == 408 and r.events == [("close", 1)]
    # a client that stops reading: the response stalls, then the connection is reset
    r = run(driver, ["S 10", "A 1", recv(1, get("/big.bin")), "S 0", "T 1", "T 500", "T 600"])
    assert r.events == [("abort", 1)] and r.stats["stalled"] == 1


def test_pipelining_beyond_the_buffer_closes_after_the_complete_ones(driver: Path) -> None:
    many = get("/style.css") * 40  # far more than the 322-byte buffer
    r = run(driver, ["S 0", "A 1", recv(1, get("/big.bin") + many), "S 1000000", "W 1"])
    got = responses(r.sent[1])
    assert got[0][2] == BIG and all(s == 200 for s, _, _ in got)
    assert 1 < len(got) < 41 and r.events == [("close", 1)] and r.stats["overflow"] == 1


def test_peer_close_answers_then_closes(driver: Path) -> None:
    r = run(driver, ["A 1", recv(1, get("/") + get("/style.css")), "F 1"])
    assert [s for s, _, _ in responses(r.sent[1])] == [200, 200]
    assert r.events == [("close", 1)]
    r = run(driver, ["A 1", recv(1, b"GET / HT"), "F 1"])  # cut short: nothing to answer
    assert r.sent == {} and r.events == [("close", 1)]


# ------------------------------------------------------------ hostile input

def _mutate(rng: random.Random, data: bytes) -> bytes:
    b = bytearray(data)
    for _ in range(rng.randint(1, 6)):
        op = rng.randrange(4)
        if op == 0 and b:
            b[rng.randrange(len(b))] = rng.getrandbits(8)
        elif op == 1:
            b.insert(rng.randrange(len(b) + 1), rng.choice(b"\r\n :%\x00\t/?"))
        elif op == 2 and b:
            del b[rng.randrange(len(b))]
        else:
            i = rng.randrange(len(b) + 1)
            b[i:i] = bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 80)))
    return bytes(b)


def test_thousands_of_hostile_inputs(driver: Path) -> None:
    """Seeded: random bytes, mutated requests, odd splits, random send space,
    FINs, closes, the clock; under ASan/UBSan every run must end cleanly, every
    byte sent be a well-formed response, and the counters add up."""
    rng = random.Random(2024)
    valid = [get("/"), get("/big.bin", method="HEAD"), get("/style.css", "Connection: close\r\n"),
             b"GET / HTTP/1.0\r\n\r\n", get("/%zz"), get("/", "Content-Length: 3\r\n") + b"abc",
             b"POST / HTTP/1.1\r\nHost: h\r\n\r\n", get("/x", "X-Long: " + "v" * 200 + "\r\n")]
    total_runs = 60
    for n in range(total_runs):
        ops: list[str] = []
        live: set[int] = set()
        for _ in range(rng.randint(5, 60)):
            k = rng.randrange(10)
            c = rng.randrange(6)
            if k == 0 and c not in live:
                ops.append(f"A {c}")
                live.add(c)
            elif k <= 5 and c in live:
                choice = rng.randrange(3)
                if choice == 0:
                    data = bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 400)))
                elif choice == 1:
                    data = _mutate(rng, rng.choice(valid))
                else:
                    data = b"".join(rng.choice(valid) for _ in range(rng.randint(1, 4)))
                cut = sorted(rng.sample(range(len(data) + 1), min(len(data) + 1, 3)))
                for a, b in zip([0] + cut, cut + [len(data)]):
                    if b > a:
                        ops.append(recv(c, data[a:b]))
            elif k == 6:
                ops.append(f"S {rng.choice([0, 1, 7, 100, 5000, 1 << 20])}")
            elif k == 7 and c in live:
                ops.append(f"W {c}")
            elif k == 8 and c in live:
                ops.append(rng.choice([f"F {c}", f"C {c}"]))
                if ops[-1].startswith("C"):
                    live.discard(c)
            else:
                ops.append(f"T {rng.choice([1, 50, 700, 1500])}")
        ops += ["S 1048576"] + [f"W {c}" for c in sorted(live)]
        r = run(driver, ops)
        status_lines = sum(len(re.findall(rb"(?:^|\n)HTTP/1\.1 \d{3} ", s)) for s in r.sent.values())
        assert status_lines <= r.stats["responses"], (n, r.stats)  # some still queued
        for c, stream in r.sent.items():
            assert stream.startswith(b"HTTP/1.1 ") or b"HTTP/1.1 ".startswith(stream), \
                (n, c, stream[:80])
