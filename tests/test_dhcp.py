"""The dhcp library (the alternative provider of net.addr) end to end:
tests/apps/udp-echo-dhcp (udp-echo with `use dhcp for net.addr;`) leases its
address from QEMU user networking's DHCP server and echoes datagrams forwarded
from 127.0.0.1; under `-netdev dgram` a Python peer plays the DHCP server and
sends hostile replies first; static apps carry no dhcp code.

Every loop is bounded in count and time, and every QEMU started here is waited
for (or killed and reaped) before the test ends."""

from __future__ import annotations

import json
import random
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

from support import ROOT, needs_qemu, needs_tools, unilang
from test_net import (ECHO, GUEST_IP, HELLO, PEER_IP, PEER_MAC, _echo_round, _recv_exact,
                      _symbols, _wait, close_guest, eth, free_udp_port, ipv4, quit_guest,
                      start_dgram_guest, udp)

APP = ROOT / "tests" / "apps" / "udp-echo-dhcp"
SPEC = APP / "udp-echo-dhcp.uni"
SLIRP_LEASE = "dhcp: leased 10.0.2.15 netmask 255.255.255.0 gateway 10.0.2.2 from 10.0.2.2 for 86400 s"
DHCP_COUNTERS = re.compile(r"dhcp: leased=(\d) lease_s=(\d+) tx=(\d+) rx=(\d+) dropped: udp=(\d+) "
                           r"foreign=(\d+) malformed=(\d+) unexpected=(\d+) nak=(\d+) "
                           r"timeouts=(\d+)")


@needs_tools
@needs_qemu
def test_udp_echo_leases_its_address_from_slirp(tmp_path: Path) -> None:
    port = free_udp_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "unilang", "run", str(SPEC), "-o", str(tmp_path / "out"),
         "--timeout", "240", "--forward", f"udp:{port}:7"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    echoed = 0
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            addr = ("127.0.0.1", port)
            first = False
            for i in range(150):  # at most ~30 s
                if proc.poll() is not None:
                    break
                probe = b"probe %d" % i
                sock.sendto(probe, addr)
                if _recv_exact(sock, probe, time.monotonic() + 0.2):
                    first = True
                    break
            assert first, "the guest never echoed a probe"
            for n in range(20):
                payload = b"dhcp %02d " % n + bytes(range(n * 50 % 256)) * 3
                for _attempt in range(3):
                    sock.sendto(payload, addr)
                    if _recv_exact(sock, payload, time.monotonic() + 2.0):
                        echoed += 1
                        break
            sock.sendto(b"quit", addr)
    finally:
        out, err = _wait(proc, 60)
    lines = out.splitlines()
    assert SLIRP_LEASE in lines, out
    assert lines.index(SLIRP_LEASE) < lines.index("udp-echo: listening on port 7"), out
    assert echoed == 20, (echoed, out, err)
    assert proc.returncode == 0, err
    m = DHCP_COUNTERS.search(out)
    assert m and m.group(1) == "1" and m.group(2) == "86400", out
    print(SLIRP_LEASE)


@needs_tools
def test_static_apps_carry_no_dhcp_code(tmp_path: Path) -> None:
    """The static provider is the default: udp-echo and hello resolve and link
    without dhcp; the dhcp variant has it."""
    images = {}
    for spec, name in ((HELLO, "hello"), (ECHO, "udp-echo"), (SPEC, "udp-echo-dhcp")):
        r = unilang("build", str(spec), "-o", str(tmp_path / name))
        assert r.returncode == 0, r.stderr
        images[name] = _symbols(tmp_path / name / f"{name}.debug.elf")
        manifest = json.loads((tmp_path / name / "manifest.json").read_text())
        libs = {lib["name"] for lib in manifest["libraries"]}
        assert ("dhcp" in libs) == (name == "udp-echo-dhcp"), (name, libs)
    for name in ("hello", "udp-echo"):
        assert sorted(s for s in images[name] if re.search("dhcp", s, re.I)) == [], name
    assert {"dhcp_init", "unilang_dhcp_stats", "unilang_ipv4_configure"} <= images["udp-echo-dhcp"]


# ------------------------------------------------------------- a hostile server

SERVER = PEER_IP
XID_AT = 14 + 20 + 8 + 4


def _dhcp_from_guest(frames: list[bytes]) -> list[tuple[int, bytes]]:
    """(message type, frame) of the guest's DHCP requests among `frames`."""
    out = []
    for f in frames:
        if (len(f) >= 14 + 20 + 8 + 244 and f[12:14] == b"\x08\x00" and f[23] == 17
                and f[36:38] == (67).to_bytes(2, "big")):
            opts = f[14 + 20 + 8 + 240:]
            i, kind = 0, 0
            while i + 1 < len(opts) and opts[i] != 255:
                if opts[i] == 0:
                    i += 1
                    continue
                if opts[i] == 53:
                    kind = opts[i + 2]
                i += 2 + opts[i + 1]
            out.append((kind, f))
    return out


def _reply(mac: bytes, xid: bytes, kind: int, yiaddr: bytes, *, op: int = 2, chaddr: bytes | None = None,
           magic: bytes = b"\x63\x82\x53\x63", options: bytes | None = None, server: bytes = SERVER,
           sport: int = 67, dport: int = 68, good_csum: bool = True, length: int | None = None,
           extra: bytes = b"") -> bytes:
    """A BOOTREPLY broadcast from the server; every field can be made wrong."""
    chaddr = mac if chaddr is None else chaddr
    fixed = (bytes([op, 1, 6, 0]) + xid + b"\0\0\0\0" + b"\0" * 4 + yiaddr + b"\0" * 8 +
             chaddr + b"\0" * (16 - len(chaddr)) + b"\0" * 192)
    if options is None:
        options = (bytes([53, 1, kind]) + bytes([54, 4]) + server + bytes([1, 4, 255, 255, 255, 0])
                   + bytes([3, 4]) + SERVER + bytes([51, 4]) + (3600).to_bytes(4, "big") + b"\xff")
    msg = fixed + magic + options + extra
    bcast = b"\xff" * 4
    return eth(b"\xff" * 6, PEER_MAC, 0x0800,
               ipv4(SERVER, bcast, 17, udp(SERVER, bcast, sport, dport, msg, good_csum=good_csum,
                                            length=length)))


def _hostile_offers(rng: random.Random, mac: bytes, xid: bytes) -> list[bytes]:
    bad = bytes([10, 0, 2, 99])  # accepting any of these would lease .99, not .15
    other_xid = bytes(b ^ 0x5A for b in xid)
    o = [
        _reply(mac, other_xid, 2, bad),                          # foreign: xid
        _reply(mac, xid, 2, bad, chaddr=bytes(6)),               # foreign: MAC
        _reply(mac, xid, 2, bad, op=1),                          # foreign: a request
        _reply(mac, xid, 2, bad, sport=68),                      # foreign: ports
        _reply(mac, xid, 2, bad, dport=69),
        _reply(mac, xid, 2, bad, magic=b"\x63\x82\x53\x64"),     # malformed: cookie
        _reply(mac, xid, 2, bad, good_csum=False),               # udp checksum
        _reply(mac, xid, 2, bad, length=4),                      # udp length < 8
        _reply(mac, xid, 2, bad, length=2000),                   # udp length > packet
        _reply(mac, xid, 2, bad, options=bytes([53, 1, 2, 54, 4]) + SERVER[:2]),  # runs past the end
        _reply(mac, xid, 2, bad, options=bytes([53, 1, 2, 54, 4]) + SERVER),     # no end option
        _reply(mac, xid, 2, bad, options=bytes([53, 2, 2, 0, 54, 4]) + SERVER + b"\xff"),  # 53 of 2 bytes
        _reply(mac, xid, 2, bad, options=bytes([53, 1, 2, 54, 3]) + SERVER[:3] + b"\xff"),
        _reply(mac, xid, 2, bad, options=bytes([53, 1, 2, 54, 4]) + SERVER + bytes([3, 0, 255])),
        _reply(mac, xid, 2, bad, options=bytes([53, 1, 2, 1, 5, 1, 2, 3, 4, 5, 255])),
        _reply(mac, xid, 2, bad, options=bytes([54, 4]) + SERVER + b"\xff"),  # no type
        _reply(mac, xid, 2, bad, options=bytes([53, 1, 2, 255])),            # no server id
        _reply(mac, xid, 2, b"\xff\xff\xff\xff"),                # yiaddr broadcast
        _reply(mac, xid, 2, bytes(4)),                           # yiaddr 0
        _reply(mac, xid, 2, bad, server=bytes([127, 0, 0, 1])),  # server id loopback
        _reply(mac, xid, 5, bad),                                # unexpected: an ACK
        _reply(mac, xid, 2, bad, options=b""),                   # nothing after the cookie
    ]
    base = _reply(mac, xid, 2, bad, options=b"")
    o.append(base[:-1])                                          # IP/UDP fine, message < 240
    for n in range(300):  # random options after a good header; none may be taken
        opts = bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 80)))
        if n % 3 == 0:
            opts = bytes([53, 1, 2]) + opts
        o.append(_reply(mac, xid, 2, bad, options=opts))
    return o


def _build_with(tmp_path: Path, sets: str) -> Path:
    """The test app with `set` lines added; its output directory."""
    app = tmp_path / "app"
    app.mkdir()
    shutil.copy(APP / "udp-echo.c", app / "udp-echo.c")
    spec = SPEC.read_text().replace("use dhcp for net.addr;", "use dhcp for net.addr;\n" + sets)
    (app / "udp-echo-dhcp.uni").write_text(spec)
    out_dir = tmp_path / "out"
    r = unilang("build", str(app / "udp-echo-dhcp.uni"), "-o", str(out_dir))
    assert r.returncode == 0, r.stderr
    return out_dir


@needs_tools
@needs_qemu
def test_no_server_falls_back_to_the_static_address(tmp_path: Path) -> None:
    """Nobody answers on `-netdev dgram`: one attempt times out on the
    monotonic clock, the console says so, and the static 10.0.2.15 serves."""
    out_dir = _build_with(tmp_path, "    set dhcp.attempts = 2;\n    set dhcp.timeout_ms = 300;")
    proc, peer, sockdir = start_dgram_guest(out_dir, "udhcp")
    try:
        discovers, mac = 0, None
        deadline = time.monotonic() + 60
        while mac is None and time.monotonic() < deadline and proc.poll() is None:
            for f in peer.frames(time.monotonic() + 0.5):
                discovers += sum(1 for k, _f in _dhcp_from_guest([f]) if k == 1)
                if f[12:14] == b"\x08\x06" and f[14 + 24:14 + 28] == GUEST_IP:
                    mac = f[6:12]
        assert mac is not None, "no gratuitous ARP after the fallback"
        echoed = _echo_round(peer, mac, [b"static %d" % n for n in range(3)])
        out, err = quit_guest(proc, peer, mac, ":")
    finally:
        close_guest(proc, peer, sockdir)
    assert proc.returncode == 1, (out, err)
    assert ("dhcp: no lease from any server; falling back to the static address 10.0.2.15"
            in out.splitlines()), out
    assert discovers == 2 and echoed == 3, (discovers, echoed, out)
    m = DHCP_COUNTERS.search(out)
    assert m and m.group(1) == "0" and m.group(3) == "2" and m.group(10) == "2", out


@needs_tools
@needs_qemu
def test_hostile_dhcp_replies_are_dropped_and_counted(tmp_path: Path) -> None:
    out_dir = _build_with(tmp_path, "    set dhcp.timeout_ms = 20000;")
    proc, peer, sockdir = start_dgram_guest(out_dir, "udhcp")

    def wait_for(kind: int) -> bytes:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            for k, f in _dhcp_from_guest(peer.frames(time.monotonic() + 0.5)):
                if k == kind:
                    return f
        raise AssertionError(f"no DHCP message {kind} from the guest")

    try:
        discover = wait_for(1)
        mac, xid = discover[6:12], discover[XID_AT:XID_AT + 4]
        assert discover[14 + 28 + 28:14 + 28 + 34] == mac  # chaddr
        for frame in _hostile_offers(random.Random(11), mac, xid):
            peer.send(frame)
        peer.send(_reply(mac, xid, 2, GUEST_IP))
        request = wait_for(3)
        assert request[XID_AT:XID_AT + 4] == xid
        opts = request[14 + 28 + 240:]
        assert bytes([50, 4]) + GUEST_IP in opts and bytes([54, 4]) + SERVER in opts
        other = bytes([10, 0, 2, 3])
        for frame in (_reply(mac, xid, 5, GUEST_IP, server=other),   # another server's ACK
                      _reply(mac, xid, 6, bytes(4), server=other),   # another server's NAK
                      _reply(mac, xid, 5, bytes([10, 0, 2, 99])),    # not what was offered
                      _reply(mac, xid, 2, GUEST_IP),                 # a second OFFER
                      _reply(mac, xid, 5, GUEST_IP, options=bytes([53, 1, 5, 54, 4]) + SERVER
                             + bytes([1, 4, 255, 0, 255, 0, 255]))):  # mask not contiguous
            peer.send(frame)
        peer.send(_reply(mac, xid, 5, GUEST_IP))
        # configured: the guest announces 10.0.2.15 (frames sent before that,
        # during the exchange, found no address to answer for)
        announced = False
        deadline = time.monotonic() + 30
        while not announced and time.monotonic() < deadline and proc.poll() is None:
            announced = any(f[12:14] == b"\x08\x06" and f[14 + 24:14 + 28] == GUEST_IP
                            for f in peer.frames(time.monotonic() + 0.5))
        assert announced, "no gratuitous ARP after the ACK"
        echoed = _echo_round(peer, mac, [b"after the lease %d" % n for n in range(5)])
        out, err = quit_guest(proc, peer, mac, ":")
    finally:
        close_guest(proc, peer, sockdir)
    assert proc.returncode == 1, (out, err)  # isa-debug-exit: guest exit 0
    assert ("dhcp: leased 10.0.2.15 netmask 255.255.255.0 gateway 10.0.2.2 from 10.0.2.2 "
            "for 3600 s") in out.splitlines(), out
    assert echoed == 5, out
    m = DHCP_COUNTERS.search(out)
    assert m, out
    leased, lease_s, tx, rx, d_udp, foreign, malformed, unexpected, nak, timeouts = map(int, m.groups())
    assert (leased, lease_s, tx, nak, timeouts) == (1, 3600, 2, 0, 0), out
    assert d_udp >= 3 and foreign >= 7 and malformed >= 15 and unexpected >= 1, out
    print(m.group(0))
