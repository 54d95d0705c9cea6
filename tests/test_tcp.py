"""The tcp library end to end (tests/apps/tcp-echo, an echo server on port 7).

1. From the host: `unilang run --forward tcp:PORT:7` (QEMU user networking,
   127.0.0.1 only), several concurrent Python connections, more than a window
   and more than the send buffer each, echoed byte-exact, closed gracefully
   in both directions; and one that gets 100,000 bytes the guest refills
   from its writable callback, then the guest's FIN.
2. Hostile segments through the raw-frame harness of test_net.py (-netdev
   dgram): a Python peer speaks TCP segment by segment: MSS, out-of-order and
   out-of-window data, RSTs in and out of the window, invalid flag
   combinations, cut-short segments, bad data offsets and checksums, a zero
   window, a SYN flood beyond max_connections and a full table; several
   segments in flight before any ACK (bounded by the window) and an ACK of
   everything sent before a retransmission timeout; the gateway's MAC asked
   for at boot. The service
   still answers a real connection afterwards, and its counters are asserted.
3. On the host: tcp.c and ipv4.c compiled with AddressSanitizer and UBSan
   under tests/host_c/tcp_driver.c, hundreds of thousands of seeded segments
   near and far from the live sequence numbers, with a fake clock and an app
   that sends, closes and aborts at random; every frame sent is checked.

Every loop is bounded in count and time; every QEMU started here is reaped."""

from __future__ import annotations

import os
import re
import selectors
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from support import IPV4_DEFINES, ROOT, ipv4_host_sources, needs_qemu, needs_tools, unilang
from test_net import (GUEST_IP, PEER_IP, PEER_MAC, Peer, arp, close_guest, csum, eth, ipv4,
                      start_dgram_guest)

APP = ROOT / "tests" / "apps" / "tcp-echo" / "tcp-echo.uni"
MAX_CONNECTIONS = 8  # tcp-echo.uni's settings
SEND_BUFFER = 4096
RECV_WINDOW = 4096
OUR_MSS = 1460
TIME_WAIT_MS = 1000
FIN, SYN, RST, PSH, ACK, URG = 1, 2, 4, 8, 16, 32


def counters(out: str) -> dict[str, int]:
    return {k: int(v) for k, v in re.findall(r"^(\w+)=(\d+)$", out, re.M)}


def free_tcp_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ------------------------------------------------------------- from the host

def _probe(port: int, proc: subprocess.Popen[str]) -> socket.socket:
    """A connection the guest echoes on (slirp accepts before the guest is up:
    retry until an echo comes back, at most ~60 s)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            s.sendall(b"probe")
            if s.recv(16) == b"probe":
                return s
            s.close()
        except OSError:
            pass
        time.sleep(0.2)
    raise AssertionError("the guest never echoed on a TCP connection")


def blast(n: int = 100000) -> bytes:
    """What tcp-echo sends for `blast` (refilled from its writable callback)."""
    return bytes((k * 31 + (k >> 11)) & 255 for k in range(n))


def _echo_many(port: int, payloads: list[bytes], timeout: float) -> list[tuple[bytes, bool]]:
    """One connection per payload, all at once, non-blocking: write it all
    (then shut our side down), read until EOF. (bytes read, EOF seen) each."""
    sel = selectors.DefaultSelector()
    state = []
    for i, data in enumerate(payloads):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.setblocking(False)
        st = {"sock": s, "data": data, "sent": 0, "got": bytearray(), "eof": False, "i": i}
        state.append(st)
        sel.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE, st)
    deadline = time.monotonic() + timeout
    open_ = len(state)
    while open_ and time.monotonic() < deadline:
        for key, ev in sel.select(timeout=0.5):
            st = key.data
            s = st["sock"]
            if ev & selectors.EVENT_WRITE and st["sent"] < len(st["data"]):
                try:
                    st["sent"] += s.send(st["data"][st["sent"]:st["sent"] + 16384])
                except BlockingIOError:
                    pass
                if st["sent"] == len(st["data"]):
                    s.shutdown(socket.SHUT_WR)  # our FIN after the data
                    sel.modify(s, selectors.EVENT_READ, st)
            if ev & selectors.EVENT_READ:
                try:
                    b = s.recv(65536)
                except BlockingIOError:
                    continue
                if b:
                    st["got"] += b
                else:
                    st["eof"] = True  # the guest's FIN
                    sel.unregister(s)
                    open_ -= 1
    for st in state:
        st["sock"].close()
    sel.close()
    return [(bytes(st["got"]), st["eof"]) for st in state]


@needs_tools
@needs_qemu
def test_tcp_echo_from_the_host(tmp_path: Path) -> None:
    port = free_tcp_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "unilang", "run", str(APP), "-o", str(tmp_path / "out"),
         "--timeout", "400", "--forward", f"tcp:{port}:7"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        probe = _probe(port, proc)
        rng = __import__("random").Random(12)
        # several windows and send buffers each (flow control, send-buffer refill)
        payloads = [bytes(rng.getrandbits(8) for _ in range(n))
                    for n in (1, 1460, 3 * RECV_WINDOW + 17, 5 * SEND_BUFFER + 333, 40000)]
        results = _echo_many(port, payloads + [b"blast"], timeout=240)
        probe.shutdown(socket.SHUT_WR)
        probe.settimeout(30)
        probe_eof = probe.recv(16) == b""
        probe.close()
        q = socket.create_connection(("127.0.0.1", port), timeout=10)
        q.sendall(b"quit")
        try:
            out, err = proc.communicate(timeout=120)
        finally:
            q.close()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    for n, ((got, eof), want) in enumerate(zip(results, payloads + [blast()])):
        assert got == want, (n, len(got), len(want), out)
        assert eof, (n, out)
    assert probe_eof
    assert proc.returncode == 0, (out, err)
    c = counters(out)
    conns = len(payloads) + 3  # + blast + probe + quit
    assert c["tcp_opened"] >= conns and c["app_accepted"] == c["tcp_opened"], out
    probes = c["tcp_opened"] - 2 - len(payloads)  # every accepted probe echoed `probe`
    assert c["app_echoed"] == sum(map(len, payloads)) + 5 * probes, out
    assert c["app_short_sends"] == 0, out  # the window never let in more than fits
    assert c["app_peer_fins"] >= len(payloads) + 1, out
    for k in ("drop_short", "drop_offset", "drop_checksum", "drop_flags", "drop_options",
              "drop_out_of_order", "timed_out", "syn_refused", "syn_evicted", "reset"):
        assert c[f"tcp_{k}"] == 0, (k, out)
    print(" ".join(f"{k}={v}" for k, v in c.items() if k.startswith(("tcp_", "app_"))))


# ------------------------------------------------------------- hostile segments

def tcp(sport: int, dport: int, seq: int, ack: int, flags: int, data: bytes = b"", *,
        win: int = 65535, options: bytes = b"", doff: int | None = None, good_csum: bool = True,
        src: bytes = PEER_IP) -> bytes:
    """A TCP segment inside IPv4 (checksum over the pseudo-header)."""
    return ipv4(src, GUEST_IP, 6, tcp_segment(sport, dport, seq, ack, flags, data, win=win,
                                              options=options, doff=doff, good_csum=good_csum,
                                              src=src))


def tcp_segment(sport: int, dport: int, seq: int, ack: int, flags: int, data: bytes = b"", *,
                win: int = 65535, options: bytes = b"", doff: int | None = None,
                good_csum: bool = True, src: bytes = PEER_IP) -> bytes:
    """The TCP bytes alone."""
    hl = 20 + len(options)
    off = hl // 4 if doff is None else doff
    h = (sport.to_bytes(2, "big") + dport.to_bytes(2, "big") + (seq % 2**32).to_bytes(4, "big") +
         (ack % 2**32).to_bytes(4, "big") + bytes([off << 4, flags]) + win.to_bytes(2, "big") +
         b"\0\0\0\0" + options)
    pseudo = src + GUEST_IP + bytes([0, 6]) + (len(h) + len(data)).to_bytes(2, "big")
    c = csum(pseudo + h + data)
    if not good_csum:
        c = (c ^ 0x5A5A) or 1
    return h[:16] + c.to_bytes(2, "big") + h[18:] + data


class Wire:
    """The guest's TCP segments seen by the dgram peer, parsed, in arrival order."""

    def __init__(self, peer: Peer, mac: bytes) -> None:
        self.peer, self.mac = peer, mac
        self.segs: list[dict] = []
        self.arps = 0

    def _take(self, frames: list[bytes]) -> None:
        for f in frames:
            if len(f) < 54 or f[12:14] != b"\x08\x00" or f[23] != 6:
                continue
            ip = f[14:]
            ihl = (ip[0] & 15) * 4
            seg = ip[ihl:int.from_bytes(ip[2:4], "big")]
            doff = (seg[12] >> 4) * 4
            self.segs.append({"dst": ip[16:20], "sport": int.from_bytes(seg[0:2], "big"),
                              "dport": int.from_bytes(seg[2:4], "big"),
                              "seq": int.from_bytes(seg[4:8], "big"),
                              "ack": int.from_bytes(seg[8:12], "big"), "flags": seg[13],
                              "win": int.from_bytes(seg[14:16], "big"),
                              "opts": seg[20:doff], "data": seg[doff:]})

    def send(self, packet: bytes) -> None:
        self._take(self.peer.send(eth(self.mac, PEER_MAC, 0x0800, packet)))

    def pump(self, seconds: float) -> None:
        self._take(self.peer.frames(time.monotonic() + seconds))

    def wait(self, port: int, pred, timeout: float = 10.0, start: int = 0) -> dict | None:
        """The first segment to `port` (from index `start`) that satisfies pred."""
        deadline = time.monotonic() + timeout
        i = start
        while True:
            while i < len(self.segs):
                s = self.segs[i]
                i += 1
                if s["dport"] == port and pred(s):
                    return s
            if time.monotonic() >= deadline:
                return None
            self.pump(min(0.2, max(0.01, deadline - time.monotonic())))

    def mark(self) -> int:
        return len(self.segs)


class Conn:
    """One TCP connection driven segment by segment from the peer's side."""

    def __init__(self, wire: Wire, port: int, src: bytes = PEER_IP) -> None:
        self.w, self.port, self.src = wire, port, src
        self.seq = 1000 * port  # our next sequence number
        self.ack = 0            # the guest's next sequence number (what we ACK)
        self.echo = bytearray()

    def seg(self, flags: int, data: bytes = b"", **kw) -> None:
        kw.setdefault("src", self.src)
        self.w.send(tcp(self.port, 7, kw.pop("seq", self.seq), kw.pop("ack", self.ack),
                        flags, data, **kw))

    def syn(self, mss: int | None = 1460, win: int = 65535) -> dict | None:
        opts = b"" if mss is None else b"\x02\x04" + mss.to_bytes(2, "big")
        m = self.w.mark()
        self.seg(SYN, options=opts, win=win, ack=0)
        self.seq += 1
        return self.w.wait(self.port, lambda s: s["flags"] & (SYN | RST), start=m)

    def open(self, mss: int | None = 1460, win: int = 65535) -> dict:
        sa = self.syn(mss, win)
        assert sa is not None and sa["flags"] == SYN | ACK, sa
        assert sa["ack"] == self.seq % 2**32
        self.ack = sa["seq"] + 1
        self.seg(ACK, win=win)
        return sa

    def send(self, data: bytes, **kw) -> None:
        self.seg(ACK | PSH, data, **kw)
        self.seq += len(data)

    def read(self, n: int, timeout: float = 15.0, win: int = 65535, start: int = 0) -> bytes:
        """Collect in-order echoed data (ACKing it) until n bytes or the timeout,
        from the segments seen since mark `start`."""
        deadline = time.monotonic() + timeout
        while len(self.echo) < n and time.monotonic() < deadline:
            s = self.w.wait(self.port, lambda s: s["data"] and s["seq"] == self.ack % 2**32,
                            timeout=max(0.05, deadline - time.monotonic()), start=start)
            if s is None:
                break
            start = self.w.segs.index(s) + 1
            self.echo += s["data"]
            self.ack += len(s["data"])
            self.seg(ACK, win=win)
        out = bytes(self.echo[:n])
        del self.echo[:n]
        return out

    def acks_after(self, m: int, timeout: float = 5.0) -> dict | None:
        """The guest's next pure ACK after mark m."""
        return self.w.wait(self.port, lambda s: s["flags"] & ACK and not s["data"] and
                           not s["flags"] & (SYN | FIN | RST), timeout, start=m)


def _boot(tmp_path: Path):
    out_dir = tmp_path / "out"
    r = unilang("build", str(APP), "-o", str(out_dir))
    assert r.returncode == 0, r.stderr
    proc, peer, sockdir = start_dgram_guest(out_dir, "utcp")
    mac = None
    asked = False  # ipv4 asks for the gateway's MAC (10.0.2.2, the peer) once configured
    deadline = time.monotonic() + 60
    while not (mac and asked) and time.monotonic() < deadline and proc.poll() is None:
        for f in peer.frames(time.monotonic() + 0.5):
            if f[12:14] == b"\x08\x06" and f[14 + 24:14 + 28] == GUEST_IP:
                mac = f[6:12]
            if (f[12:14] == b"\x08\x06" and f[14 + 6:14 + 8] == b"\x00\x01" and
                    f[14 + 14:14 + 18] == GUEST_IP and f[14 + 24:14 + 28] == PEER_IP):
                asked = True
    assert mac is not None, "no gratuitous ARP from the guest"
    assert asked, "the guest did not ask for the gateway's MAC after configuring"
    # the peer announces itself, so the guest can answer 10.0.2.2
    peer.send(eth(mac, PEER_MAC, 0x0806, arp(1, PEER_MAC, PEER_IP, b"\0" * 6, GUEST_IP)))
    return proc, peer, sockdir, Wire(peer, mac), out_dir


@needs_tools
@needs_qemu
def test_hostile_segments_are_dropped_and_counted(tmp_path: Path) -> None:
    proc, peer, sockdir, w, out_dir = _boot(tmp_path)
    try:
        _hostile_session(w, proc)
        q = Conn(w, 39999)
        q.open()
        q.send(b"quit")
        try:
            out, err = proc.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
            pytest.fail(f"the guest did not exit after quit:\n{out}")
    finally:
        close_guest(proc, peer, sockdir)
    assert proc.returncode == 1, (out, err)  # isa-debug-exit: guest exit 0
    c = counters(out)
    for k in ("drop_short", "drop_offset", "drop_checksum", "drop_flags", "drop_options",
              "drop_no_conn", "drop_window", "drop_ack", "drop_syn", "drop_rst",
              "drop_out_of_order", "syn_evicted", "syn_refused", "reset", "rst_rx", "rst_tx",
              "retransmits", "fast_retransmits"):
        assert c[f"tcp_{k}"] > 0, (k, out)
    assert c["app_short_sends"] == 0, out
    assert c["tcp_current"] <= MAX_CONNECTIONS, out
    # no allocator in the image: the tables are static, memory is bounded by them
    from test_net import _symbols
    syms = _symbols(out_dir / "tcp-echo.debug.elf")
    assert "unilang_tcp_listen" in syms and "malloc" not in syms
    print(" ".join(f"{k}={v}" for k, v in c.items()))


def _hostile_session(w: Wire, proc: subprocess.Popen[str]) -> None:
    # -- a real connection: SYN-ACK carries our MSS option and window
    a = Conn(w, 40001)
    sa = a.open()
    assert sa["opts"][:4] == b"\x02\x04" + OUR_MSS.to_bytes(2, "big"), sa
    assert 0 < sa["win"] <= RECV_WINDOW, sa
    a.send(b"hello")
    assert a.read(5) == b"hello"

    # -- the peer's MSS is honoured: 100-byte segments back
    b = Conn(w, 40002)
    b.open(mss=100)
    m = w.mark()
    b.send(bytes(range(200)) * 5)
    assert b.read(1000) == bytes(range(200)) * 5
    sizes = [len(s["data"]) for s in w.segs[m:] if s["dport"] == 40002 and s["data"]]
    assert sizes and max(sizes) <= 100, sizes

    # -- several segments in flight: before the peer acknowledges anything the
    # guest sends what the peer's window allows, not one segment per ACK
    # (issue 12), and never more than that window
    g = Conn(w, 40008)
    g.open(mss=100, win=600)
    m = w.mark()
    g.send(bytes(range(250)) * 4, win=600)  # 1000 bytes to echo, 600 may leave
    base = g.ack % 2**32
    seen: dict[int, int] = {}
    deadline = time.monotonic() + 20
    while sum(seen.values()) < 600 and time.monotonic() < deadline:
        s = w.wait(40008, lambda s: s["data"] and (s["seq"] - base) % 2**32 not in seen,
                   timeout=max(0.05, deadline - time.monotonic()), start=m)
        if s is None:
            break
        seen[(s["seq"] - base) % 2**32] = len(s["data"])
    w.pump(0.3)  # nothing more may come before an ACK (a retransmission is no new data)
    for s in w.segs[m:]:
        if s["dport"] == 40008 and s["data"]:
            seen[(s["seq"] - base) % 2**32] = len(s["data"])
    assert len(seen) > 1, seen  # more than one segment before any ACK
    assert max(off + n for off, n in seen.items()) <= 600, seen  # within the window
    assert sum(seen.values()) == 600 and max(seen.values()) <= 100, seen
    # the retransmission timeout resends the first segment (and goes back to
    # it); an ACK of everything sent before that timeout is still accepted,
    # and the rest follows (it was once dropped as an ACK of unsent data)
    again = w.wait(40008, lambda s: s["data"] and s["seq"] == base, timeout=20,
                   start=w.mark())
    assert again is not None and again["data"] == bytes(range(100)), again
    m = w.mark()
    g.ack += 600
    g.seg(ACK)
    assert g.read(400, start=m) == (bytes(range(250)) * 4)[600:]
    g.seg(RST)

    # -- out of order: dropped, answered with an ACK of rcv_nxt; in order after
    m = w.mark()
    a.seg(ACK | PSH, b"LATER", seq=a.seq + 10)
    ack = a.acks_after(m)
    assert ack is not None and ack["ack"] == a.seq % 2**32, ack
    a.send(b"first")
    assert a.read(5) == b"first"
    w.pump(0.3)
    assert not any(s["dport"] == 40001 and b"LATER" in s["data"] for s in w.segs)

    # -- data and RSTs with sequence numbers outside the window
    m = w.mark()
    a.seg(ACK | PSH, b"faraway", seq=a.seq + 100000)
    ack = a.acks_after(m)
    assert ack is not None and ack["ack"] == a.seq % 2**32
    a.seg(ACK | PSH, b"old", seq=a.seq - 50000)
    a.seg(RST, seq=a.seq + 100000)
    a.seg(RST | ACK, seq=a.seq - 3)
    m = w.mark()
    a.seg(RST, seq=a.seq + 5)  # in the window, not exact: a challenge ACK (RFC 5961)
    assert a.acks_after(m) is not None
    m = w.mark()
    a.seg(SYN, seq=a.seq + 7)  # SYN on an open connection: challenge ACK
    assert a.acks_after(m) is not None
    m = w.mark()
    a.seg(ACK, ack=a.ack + 5000)  # ACK of data never sent
    assert a.acks_after(m) is not None

    # -- invalid flag combinations, cut-short segments, bad offsets and checksums
    for flags in (SYN | FIN, SYN | RST, 0, FIN, PSH | URG | FIN, URG, SYN | FIN | ACK):
        a.seg(flags, b"x")
        w.send(tcp(40100, 7, 5, 0, flags))
    good = tcp_segment(40001, 7, a.seq, a.ack, ACK | PSH, b"cut")
    for n in (1, 10, 19):  # the TCP header cut short (IP's lengths agree)
        w.send(ipv4(PEER_IP, GUEST_IP, 6, good[:n]))
    w.send(ipv4(PEER_IP, GUEST_IP, 6, b""))
    w.send(tcp(40001, 7, a.seq, a.ack, ACK | PSH, b"offset", doff=4))
    w.send(tcp(40001, 7, a.seq, a.ack, ACK | PSH, b"offset", doff=15))
    w.send(tcp(40001, 7, a.seq, a.ack, ACK | PSH, b"badsum", good_csum=False))
    w.send(tcp(0, 7, 1, 0, SYN))                     # port 0
    w.send(tcp(40101, 7, 1, 0, SYN, options=b"\x02\x00\x00\x00"))  # option length 0
    w.send(tcp(40102, 7, 1, 0, SYN, options=b"\x01\x01\x08\x0a"))  # runs past the header
    w.send(tcp(40103, 7, 1, 0, SYN, options=b"\x02\x03\x05\x00"))  # MSS of length 3
    w.send(tcp(40104, 9, 1, 0, SYN))                 # closed port: RST
    rst = w.wait(40104, lambda s: s["flags"] & RST)
    assert rst is not None and rst["ack"] == 2, rst
    a.send(b"still")  # none of it reached the app
    assert a.read(5) == b"still"

    # -- a zero window from the peer: no data beyond 1-byte probes until it opens
    z = Conn(w, 40003)
    z.open(win=0)
    m = w.mark()
    z.send(b"zero window data", win=0)
    probe = w.wait(40003, lambda s: len(s["data"]) > 0, timeout=20, start=m)
    assert probe is not None and len(probe["data"]) == 1, probe  # a window probe
    w.pump(1.0)
    assert all(len(s["data"]) <= 1 for s in w.segs[m:] if s["dport"] == 40003)
    m = w.mark()
    z.seg(ACK, win=65535)  # the window opens (the probed byte was not taken)
    assert z.read(16, start=m) == b"zero window data"

    # -- graceful close from the peer, and a reset from the peer
    m = w.mark()
    z.seg(FIN | ACK)
    z.seq += 1
    fin = w.wait(40003, lambda s: s["flags"] & FIN, start=m)
    assert fin is not None and fin["ack"] == z.seq % 2**32
    z.ack = fin["seq"] + 1
    z.seg(ACK)
    b.seg(RST)  # exact: the connection is gone
    m = w.mark()
    b.send(b"gone?")
    assert w.wait(40002, lambda s: s["flags"] & RST, start=m) is not None

    # -- we close first: FIN_WAIT_1, FIN_WAIT_2, TIME_WAIT for time_wait_ms, then gone
    t = Conn(w, 40006)
    t.open()
    m = w.mark()
    t.send(b"close")
    fin = w.wait(40006, lambda s: s["flags"] & FIN, start=m)
    assert fin is not None and fin["ack"] == t.seq % 2**32 and not fin["data"], fin
    t.ack = fin["seq"] + 1
    t.seg(ACK)  # FIN_WAIT_2
    m = w.mark()
    t.seg(FIN | ACK)  # TIME_WAIT
    t.seq += 1
    ack = t.acks_after(m)
    assert ack is not None and ack["ack"] == t.seq % 2**32, ack
    m = w.mark()
    t.seg(FIN | ACK, seq=t.seq - 1)  # our FIN again, as if the ACK was lost: ACKed again
    again = w.wait(40006, lambda s: s["flags"] & (ACK | RST), start=m)
    assert again is not None and not again["flags"] & RST and again["ack"] == t.seq % 2**32
    w.pump(TIME_WAIT_MS / 1000 + 1.5)
    m = w.mark()
    t.seg(FIN | ACK, seq=t.seq - 1)  # after time_wait_ms the slot is gone: RST
    gone = w.wait(40006, lambda s: s["flags"] & (ACK | RST), start=m)
    assert gone is not None and gone["flags"] & RST, gone

    # -- three duplicate ACKs: the first unacknowledged segment is sent again (fast
    # retransmit, counted in fast_retransmits) without waiting for the RTO
    f = Conn(w, 40007)
    f.open()
    m = w.mark()
    f.send(b"blast")
    first = w.wait(40007, lambda s: s["data"] and s["seq"] == f.ack % 2**32, start=m)
    assert first is not None
    w.pump(0.05)
    m = w.mark()
    for _ in range(3):
        f.seg(ACK)  # nothing of it acknowledged, the same window
    again = w.wait(40007, lambda s: s["data"] and s["seq"] == f.ack % 2**32, start=m)
    assert again is not None and again["data"] == first["data"]
    f.seg(RST)

    # -- SYN flood, well beyond max_connections: old half-open slots are recycled
    for n in range(6 * MAX_CONNECTIONS):
        w.send(tcp(41000 + n, 7, 7 * n, 0, SYN, options=b"\x02\x04\x05\xb4"))
        if n % 8 == 7:
            w.pump(0.01)
    assert proc.poll() is None
    d = Conn(w, 40004)  # a real client still gets in
    d.open()
    d.send(b"after the flood")
    assert d.read(15) == b"after the flood"

    # -- a table full of established connections refuses the next SYN (RST)
    full = [Conn(w, 40200 + i) for i in range(MAX_CONNECTIONS - 2)]  # + a and d
    for conn in full:
        conn.open()
    late = Conn(w, 40300)
    r = late.syn()
    assert r is not None and r["flags"] & RST, r
    for conn in full:  # resets free the slots at once
        conn.seg(RST)
    _fuzz(w, a, proc)
    e = Conn(w, 40005)
    e.open()
    e.send(b"room again")
    assert e.read(10) == b"room again"
    a.send(b"bye")
    assert a.read(3) == b"bye"
    assert proc.poll() is None


FUZZ_SEGMENTS = 1500


def _fuzz(w: Wire, a: Conn, proc: subprocess.Popen[str]) -> None:
    """Seeded random segments with valid checksums: any flags, sequence and
    acknowledgement numbers, windows, data offsets, options and lengths, to
    the open connection's ports and to others. The guest must take them all."""
    import random

    rng = random.Random(12)
    for n in range(FUZZ_SEGMENTS):
        sport = rng.choice([a.port, rng.randint(1, 65535)])
        dport = rng.choice([7, 7, rng.randint(0, 65535)])
        opts = bytes(rng.getrandbits(8) for _ in range(rng.choice([0, 0, 4, 8, 40])))
        opts = opts[:len(opts) // 4 * 4]
        data = bytes(rng.getrandbits(8) for _ in range(rng.choice([0, 1, 100, 1400])))
        seg = tcp_segment(sport, dport, rng.getrandbits(32), rng.getrandbits(32),
                          rng.getrandbits(8), data, win=rng.getrandbits(16), options=opts,
                          doff=rng.choice([None, None, rng.randint(0, 15)]))
        if rng.random() < 0.1:
            seg = seg[:rng.randint(0, len(seg))]
        w.send(ipv4(PEER_IP, GUEST_IP, 6, seg))
        if n % 100 == 99:
            w.pump(0.01)
            assert proc.poll() is None, f"QEMU exited after {n + 1} random segments"


# ------------------------------------------------------------- on the host, sanitized

#: (name, parameters): the test app's, and the smallest buffers and segments
HOST_VARIANTS = [
    ("small-table", {"MAX_CONNECTIONS": 8, "MAX_LISTENERS": 2, "SEND_BUFFER": 4096,
                     "RECV_WINDOW": 4096, "MSS": 1460, "RTO_INITIAL_MS": 500,
                     "TIME_WAIT_MS": 1000}),
    ("tiny-buffers", {"MAX_CONNECTIONS": 3, "MAX_LISTENERS": 2, "SEND_BUFFER": 64,
                      "RECV_WINDOW": 64, "MSS": 64, "RTO_INITIAL_MS": 10, "TIME_WAIT_MS": 0}),
]


@pytest.mark.skipif(__import__("shutil").which("gcc") is None, reason="gcc is needed")
@pytest.mark.parametrize("name,params", HOST_VARIANTS, ids=[v[0] for v in HOST_VARIANTS])
def test_tcp_under_sanitizers_on_the_host(tmp_path: Path, name: str,
                                          params: dict[str, int]) -> None:
    lib = ROOT / "stdlib" / "lib"
    exe = tmp_path / "tcp_driver"
    defs = [f"-DUNILANG_PARAM_TCP_{k}=({v})" for k, v in params.items()] + IPV4_DEFINES
    incs = [f"-I{ROOT / 'stdlib' / 'include'}"] + [
        f"-I{lib / n / 'include'}" for n in ("tcp", "ipv4", "ethernet", "arp", "conio",
                                             "tsc-clock", "virtio-net")]
    r = subprocess.run(["gcc", "-std=gnu11", "-O1", "-g", "-Wall", "-Wextra", "-Werror",
                        "-fsanitize=address,undefined", "-fno-sanitize-recover=all", *defs, *incs,
                        "-o", str(exe), str(ROOT / "tests" / "host_c" / "tcp_driver.c"),
                        str(lib / "tcp" / "src" / "tcp.c"), *ipv4_host_sources(tmp_path)],
                       capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stderr
    for seed in (1, 2, 3):
        p = subprocess.run([str(exe), str(seed), "150000"], capture_output=True, text=True,
                           timeout=300, check=False)
        assert p.returncode == 0, (seed, p.stdout[-3000:], p.stderr[-3000:])
        c = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", p.stdout)}
        # the fuzz reached deep: connections opened and ended every way
        for k in ("accepted", "closed", "received", "reset", "timed_out", "retransmits",
                  "syn_evicted", "drop_window", "drop_out_of_order", "drop_flags"):
            assert c[k] > 0, (k, p.stdout)
        assert c["current"] <= params["MAX_CONNECTIONS"]


def test_tcp_is_not_on_xen(tmp_path: Path) -> None:
    """No netfront yet: TCP apps get the ordinary no-provider error on xen."""
    r = unilang("build", str(APP), "--backend", "xen", "-o", str(tmp_path / "x"))
    assert r.returncode == 1 and "error[U0100]" in r.stderr, r.stderr
