"""The network tier end to end: examples/udp-echo booted under QEMU, reached from
the host through QEMU user networking forwarded to 127.0.0.1 (no root, no tap).

Every loop is bounded in count and time, and every QEMU started here is waited
for (or killed and reaped) before the test ends."""

from __future__ import annotations

import json
import random
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from support import ROOT, needs_qemu, needs_tools, unilang

ECHO = ROOT / "examples" / "udp-echo" / "udp-echo.uni"
HELLO = ROOT / "examples" / "hello" / "hello.uni"
COUNTERS = re.compile(r"udp-echo: counters: udp_rx=(\d+) udp_tx=(\d+) frames_rx=(\d+) "
                      r"frames_tx=(\d+) dropped: eth=(\d+) arp=(\d+) ip=(\d+) udp=(\d+) "
                      r"link=(\d+)")
DATAGRAMS = 1000
MAX_PAYLOAD = 1472
SEED = 11


def free_udp_port() -> int:
    """A UDP port on 127.0.0.1 that nothing holds right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _recv_exact(sock: socket.socket, want: bytes, deadline: float) -> bool:
    """Wait for `want` until `deadline`; other datagrams (late echoes of probes) are skipped."""
    while time.monotonic() < deadline:
        sock.settimeout(max(0.01, min(0.5, deadline - time.monotonic())))
        try:
            data = sock.recv(65536)
        except socket.timeout:
            return False
        if data == want:
            return True
    return False


def echo_session(port: int, proc: subprocess.Popen[str]) -> tuple[int, float]:
    """Probe until the guest answers, then DATAGRAMS round trips of 0..1472
    bytes, each byte-identical (a datagram lost on the way is sent again, at
    most 3 times), then `quit`. (datagrams echoed, seconds to the first echo)."""
    rng = random.Random(SEED)
    sizes = [0, 1, MAX_PAYLOAD] + [rng.randint(0, MAX_PAYLOAD) for _ in range(DATAGRAMS - 3)]
    addr = ("127.0.0.1", port)
    start = time.monotonic()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        # slirp delivers to the guest only once it has learnt its MAC (networking.md 4.2)
        first = None
        for i in range(150):  # at most ~30 s
            if proc.poll() is not None:
                break
            probe = b"probe %d" % i
            sock.sendto(probe, addr)
            if _recv_exact(sock, probe, time.monotonic() + 0.2):
                first = time.monotonic() - start
                break
        assert first is not None, "the guest never echoed a probe"
        echoed = 0
        for n, size in enumerate(sizes):
            payload = bytes(rng.getrandbits(8) for _ in range(size))
            if size >= 4:
                payload = b"%04d" % (n % 10000) + payload[4:]  # never `quit`
            for _attempt in range(3):
                sock.sendto(payload, addr)
                if _recv_exact(sock, payload, time.monotonic() + 2.0):
                    echoed += 1
                    break
        sock.sendto(b"quit", addr)
    return echoed, first


def _wait(proc: subprocess.Popen[str], timeout: float) -> tuple[str, str]:
    try:
        return proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"QEMU did not exit after `quit`:\n{out}\n{err}")


@needs_tools
@needs_qemu
def test_udp_echo_under_unilang_run(tmp_path: Path) -> None:
    """`unilang run --forward udp:PORT:7` on QEMU microvm with ACPI on: no device
    list on the command line, so virtio-mmio finds the NIC by probing."""
    port = free_udp_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "unilang", "run", str(ECHO), "-o", str(tmp_path / "out"),
         "--timeout", "240", "--forward", f"udp:{port}:7"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        echoed, first = echo_session(port, proc)
    finally:
        out, err = _wait(proc, 60)
    assert echoed == DATAGRAMS, (echoed, out, err)
    assert proc.returncode == 0, err
    m = COUNTERS.search(out)
    assert m, out
    udp_rx, udp_tx, frames_rx, frames_tx, *dropped = map(int, m.groups())
    assert udp_tx >= DATAGRAMS and udp_rx >= udp_tx + 1  # + quit; probes echo too
    assert frames_rx >= udp_rx and frames_tx >= udp_tx
    assert dropped == [0, 0, 0, 0, 0], out
    print(f"first echo after {first:.2f} s; {m.group(0)}")


@needs_tools
@needs_qemu
def test_udp_echo_with_acpi_off_uses_the_command_line(tmp_path: Path) -> None:
    """`-M microvm,acpi=off`: QEMU appends `virtio_mmio.device=512@0xfeb00e00:12`,
    the path Firecracker uses too. QEMU is started from qemu.json by hand."""
    out_dir = tmp_path / "out"
    r = unilang("build", str(ECHO), "-o", str(out_dir))
    assert r.returncode == 0, r.stderr
    argv = json.loads((out_dir / "qemu.json").read_text())
    argv[argv.index("-M") + 1] += ",acpi=off"
    port = free_udp_port()
    i = argv.index("-netdev")
    argv[i + 1] += f",hostfwd=udp:127.0.0.1:{port}-:7"
    j = argv.index("-accel")
    argv[j:j + 4] = ["-accel", "tcg"]
    proc = subprocess.Popen(argv, cwd=out_dir, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        echoed, _first = echo_session(port, proc)
    finally:
        out, err = _wait(proc, 60)
    assert echoed == DATAGRAMS, (echoed, out, err)
    assert proc.returncode == 1, err  # isa-debug-exit: (0 << 1) | 1
    assert COUNTERS.search(out), out


def _symbols(elf: Path) -> set[str]:
    from elftools.elf.elffile import ELFFile

    with open(elf, "rb") as f:
        symtab = ELFFile(f).get_section_by_name(".symtab")
        assert symtab is not None
        return {s.name for s in symtab.iter_symbols() if s.name}


@needs_tools
def test_images_hold_only_the_network_code_they_reach(tmp_path: Path) -> None:
    """hello has no network code at all; udp-echo has no TCP."""
    net = re.compile(r"udp|tcp|ipv4|arp|icmp|eth|virtio|net|link", re.I)
    for spec, name in ((HELLO, "hello"), (ECHO, "udp-echo")):
        r = unilang("build", str(spec), "-o", str(tmp_path / name))
        assert r.returncode == 0, r.stderr
    hello = _symbols(tmp_path / "hello" / "hello.debug.elf")
    echo = _symbols(tmp_path / "udp-echo" / "udp-echo.debug.elf")
    assert sorted(s for s in hello if net.search(s)) == []
    assert "unilang_udp_send" in echo and "unilang_net_poll" in echo
    assert sorted(s for s in echo if re.search("tcp", s, re.I)) == []


def test_forward_needs_a_net_device(tmp_path: Path) -> None:
    """`--forward` on an app without a NIC is U0210, before QEMU starts."""
    r = unilang("run", str(HELLO), "-o", str(tmp_path / "o"), "--forward", "udp:5555:7")
    assert r.returncode == 1
    assert "error[U0210]" in r.stderr, r.stderr


# ------------------------------------------------------- hostile frames (-netdev dgram)

FUZZ = ROOT / "tests" / "apps" / "netfuzz" / "netfuzz.uni"
GUEST_IP = bytes([10, 0, 2, 15])
PEER_IP = bytes([10, 0, 2, 2])
PEER_MAC = bytes.fromhex("52550a000202")
BCAST = b"\xff" * 6
FUZZ_FRAMES = 4000


def csum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    s = sum(int.from_bytes(data[i:i + 2], "big") for i in range(0, len(data), 2))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def eth(dst: bytes, src: bytes, etype: int, payload: bytes) -> bytes:
    return dst + src + etype.to_bytes(2, "big") + payload


def ipv4(src: bytes, dst: bytes, proto: int, payload: bytes, *, ttl: int = 64, flags: int = 0x4000,
         options: bytes = b"", total: int | None = None, good_csum: bool = True,
         version: int = 4) -> bytes:
    ihl = (20 + len(options)) // 4
    length = 20 + len(options) + len(payload) if total is None else total
    h = bytes([version << 4 | ihl, 0]) + length.to_bytes(2, "big") + b"\x12\x34" + \
        flags.to_bytes(2, "big") + bytes([ttl, proto]) + b"\0\0" + src + dst + options
    c = csum(h) if good_csum else (csum(h) ^ 0x5A5A) or 1
    return h[:10] + c.to_bytes(2, "big") + h[12:] + payload


def udp(src: bytes, dst: bytes, sport: int, dport: int, data: bytes, *, length: int | None = None,
        good_csum: bool = True) -> bytes:
    ulen = 8 + len(data) if length is None else length
    h = sport.to_bytes(2, "big") + dport.to_bytes(2, "big") + ulen.to_bytes(2, "big") + b"\0\0"
    pseudo = src + dst + bytes([0, 17]) + (8 + len(data)).to_bytes(2, "big")
    c = csum(pseudo + h + data) or 0xFFFF
    if not good_csum:
        c = (c ^ 0x0F0F) or 1
    return h[:6] + c.to_bytes(2, "big") + data


def arp(op: int, sha: bytes, spa: bytes, tha: bytes, tpa: bytes) -> bytes:
    return b"\x00\x01\x08\x00\x06\x04" + op.to_bytes(2, "big") + sha + spa + tha + tpa


def hostile_frames(rng: random.Random, mac: bytes) -> list[bytes]:
    """Seeded frames, each wrong in one or more ways (or a flood of valid ARP).
    None is empty: QEMU 7.2's dgram netdev takes a 0-byte datagram for the end
    of the connection and stops reading (a harness limit, not the guest's)."""
    out: list[bytes] = []

    def rb(n: int) -> bytes:
        return bytes(rng.getrandbits(8) for _ in range(n))

    def good_udp(data: bytes, **kw: object) -> bytes:
        return udp(PEER_IP, GUEST_IP, 40000, 7, data, **kw)  # type: ignore[arg-type]

    kinds = 16
    for i in range(FUZZ_FRAMES):
        k = i % kinds
        data = rb(rng.randint(0, 64))
        if k == 0:    # random bytes, any length (also to our MAC)
            f = rb(rng.randint(1, 1600))
            if len(f) >= 6 and rng.random() < 0.5:
                f = mac + f[6:]
        elif k == 1:  # truncated Ethernet / IPv4 / UDP headers
            full = eth(mac, PEER_MAC, 0x0800, ipv4(PEER_IP, GUEST_IP, 17, good_udp(data)))
            f = full[:rng.randint(1, 14 + 20 + 8)]
        elif k == 2:  # IPv4 total length lying upwards or below the header
            f = eth(mac, PEER_MAC, 0x0800, ipv4(PEER_IP, GUEST_IP, 17, good_udp(data),
                                                total=rng.choice([0, 19, 1500, 65535,
                                                                  28 + len(data) + 1])))
        elif k == 3:  # bad IPv4 header checksum
            f = eth(mac, PEER_MAC, 0x0800, ipv4(PEER_IP, GUEST_IP, 17, good_udp(data),
                                                good_csum=False))
        elif k == 4:  # IP options (valid checksum)
            f = eth(mac, PEER_MAC, 0x0800, ipv4(PEER_IP, GUEST_IP, 17, good_udp(data),
                                                options=b"\x01" * 4 * rng.randint(1, 10)))
        elif k == 5:  # fragments: MF, offsets
            f = eth(mac, PEER_MAC, 0x0800, ipv4(PEER_IP, GUEST_IP, 17, good_udp(data),
                                                flags=rng.choice([0x2000, 0x0001, 0x3FFF,
                                                                  0x2000 | 185])))
        elif k == 6:  # TTL 0
            f = eth(mac, PEER_MAC, 0x0800, ipv4(PEER_IP, GUEST_IP, 17, good_udp(data), ttl=0))
        elif k == 7:  # UDP length lying, bad UDP checksum, short UDP
            choice = rng.randint(0, 2)
            if choice == 0:
                u = good_udp(data, length=rng.choice([0, 7, 9 + len(data), 65535]))
            elif choice == 1:
                u = good_udp(data, good_csum=False)
            else:
                u = rb(rng.randint(0, 7))
            f = eth(mac, PEER_MAC, 0x0800, ipv4(PEER_IP, GUEST_IP, 17, u))
        elif k == 8:  # other EtherTypes, other versions, other protocols
            f = rng.choice([
                eth(mac, PEER_MAC, rng.choice([0x86DD, 0x8100, 0x88CC, 0x0000]), data),
                eth(mac, PEER_MAC, 0x0800, ipv4(PEER_IP, GUEST_IP, 17, good_udp(data),
                                                version=rng.choice([0, 6, 15]))),
                eth(mac, PEER_MAC, 0x0800, ipv4(PEER_IP, GUEST_IP, rng.choice([6, 2, 255]),
                                                data))])
        elif k == 9:  # oversized frames
            f = eth(mac, PEER_MAC, 0x0800, rb(rng.randint(1501, 2030)))
        elif k == 10:  # ARP flood: valid requests from many neighbours (cache eviction)
            smac = bytes([0x02]) + rb(5)
            f = eth(BCAST, smac, 0x0806, arp(1, smac, bytes([10, 0, 2, rng.randint(16, 254)]),
                                             b"\0" * 6, GUEST_IP))
        elif k == 11:  # ARP poisoning and malformed ARP: lying sender, broadcast sender, bad sizes
            smac = bytes([0x02]) + rb(5)
            f = rng.choice([
                eth(mac, smac, 0x0806, arp(2, PEER_MAC, PEER_IP, mac, GUEST_IP)),  # sha != src
                eth(mac, BCAST, 0x0806, arp(2, BCAST, PEER_IP, mac, GUEST_IP)),
                eth(mac, smac, 0x0806, arp(2, smac, GUEST_IP, mac, GUEST_IP)),   # our own IP
                eth(mac, smac, 0x0806, arp(rng.randint(3, 9), smac, PEER_IP, mac, GUEST_IP)),
                eth(mac, smac, 0x0806, arp(1, smac, PEER_IP, mac, GUEST_IP)[:rng.randint(0, 27)]),
                eth(mac, smac, 0x0806, b"\x00\x01\x08\x00\x10\x04" + rb(40))])
        elif k == 12:  # spoofed sources: broadcast, multicast, our own address, loopback
            src = rng.choice([b"\xff" * 4, bytes([224, 0, 0, 1]), GUEST_IP, bytes([127, 0, 0, 1])])
            f = eth(mac, PEER_MAC, 0x0800, ipv4(src, GUEST_IP, 17,
                                                udp(src, GUEST_IP, 40000, 7, data)))
        elif k == 13:  # not for us: other IP, other MAC
            f = rng.choice([
                eth(mac, PEER_MAC, 0x0800, ipv4(PEER_IP, bytes([10, 0, 2, 99]), 17,
                                                udp(PEER_IP, bytes([10, 0, 2, 99]), 1, 7, data))),
                eth(bytes([0x02]) + rb(5), PEER_MAC, 0x0800,
                    ipv4(PEER_IP, GUEST_IP, 17, good_udp(data)))])
        elif k == 14:  # ICMP: random, bad checksum, broadcast echo
            icmp = bytes([rng.choice([8, 0, 3, 13, 255]), 0, 0, 0]) + rb(rng.randint(0, 60))
            if rng.random() < 0.5:
                icmp = icmp[:2] + csum(icmp).to_bytes(2, "big") + icmp[4:]
            f = eth(mac, PEER_MAC, 0x0800, ipv4(PEER_IP, rng.choice([GUEST_IP, b"\xff" * 4]), 1,
                                                icmp))
        else:         # UDP to a closed port, and random bits flipped in a valid frame
            f = bytearray(eth(mac, PEER_MAC, 0x0800,
                              ipv4(PEER_IP, GUEST_IP, 17,
                                   udp(PEER_IP, GUEST_IP, 40000, rng.randint(8, 60000), data))))
            for _ in range(rng.randint(0, 3)):
                pos = rng.randrange(len(f))
                f[pos] ^= 1 << rng.randrange(8)
            f = bytes(f)
        out.append(f)
    return out


class Peer:
    """The host end of `-netdev dgram` over unix sockets: one frame per datagram."""

    def __init__(self, directory: Path) -> None:
        self.mine = str(directory / "host.sock")
        self.theirs = str(directory / "qemu.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.mine)

    def send(self, frame: bytes) -> list[bytes]:
        """Send one frame; while QEMU's queue is full, read what the guest sent
        (QEMU stops taking frames while it cannot deliver the guest's). Those
        frames are returned. At most 10 s."""
        got: list[bytes] = []
        deadline = time.monotonic() + 10.0
        while time.monotonic() < deadline:
            self.sock.settimeout(0.05)
            try:
                self.sock.sendto(frame, self.theirs)
                return got
            except (FileNotFoundError, ConnectionRefusedError):
                return got  # QEMU not listening yet (before its socket exists)
            except (socket.timeout, BlockingIOError):
                got += self.frames(time.monotonic() + 0.01)
        raise AssertionError("QEMU took no frame for 10 s: the guest stopped polling")

    def frames(self, until: float) -> list[bytes]:
        """Frames that arrive before `until` (at least one poll)."""
        got: list[bytes] = []
        while True:
            left = until - time.monotonic()
            self.sock.settimeout(max(0.001, left))
            try:
                got.append(self.sock.recv(65536))
            except socket.timeout:
                return got
            if left <= 0:
                return got

    def close(self) -> None:
        self.sock.close()


def start_dgram_guest(out_dir: Path,
                      prefix: str) -> tuple[subprocess.Popen[str], Peer, Path]:
    """Boot a built image with its NIC on `-netdev dgram` unix sockets, the
    other end held by a Python ``Peer``; ``close_guest`` undoes it all."""
    import tempfile

    sockdir = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))  # unix paths: <= 107 bytes
    peer = Peer(sockdir)
    from unilang.run import choose_accel, runtime_argv

    # the accelerator `unilang run` would pick: KVM only where QEMU can really run
    # a guest with it (some hosts open /dev/kvm and QEMU still aborts), else TCG
    qemu = json.loads((out_dir / "qemu.json").read_text())[0]
    argv = runtime_argv(out_dir, choose_accel(qemu, None, lambda _note: None)[0])
    i = argv.index("-netdev")
    netdev_id = argv[i + 1].split("id=", 1)[1].split(",", 1)[0]
    argv[i + 1] = (f"dgram,id={netdev_id},local.type=unix,local.path={peer.theirs},"
                   f"remote.type=unix,remote.path={peer.mine}")
    proc = subprocess.Popen(argv, cwd=out_dir, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    return proc, peer, sockdir


def quit_guest(proc: subprocess.Popen[str], peer: Peer, mac: bytes,
               what: str = "") -> tuple[str, str]:
    """Send `quit` to the guest's echo port; its output once it exits (bounded)."""
    peer.send(eth(mac, PEER_MAC, 0x0800, ipv4(PEER_IP, GUEST_IP, 17,
                                              udp(PEER_IP, GUEST_IP, 40000, 7, b"quit"))))
    try:
        return proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _err = proc.communicate()
        pytest.fail(f"the guest hung{what}:\n{out}")


def close_guest(proc: subprocess.Popen[str], peer: Peer, sockdir: Path) -> None:
    """No QEMU and no socket left behind, whatever happened."""
    if proc.poll() is None:
        proc.kill()
        proc.communicate()
    peer.close()
    for p in sockdir.iterdir():
        p.unlink()
    sockdir.rmdir()


def _udp_payloads(frames: list[bytes]) -> list[bytes]:
    out = []
    for f in frames:
        if len(f) >= 42 and f[12:14] == b"\x08\x00" and f[23] == 17 and f[26:30] == GUEST_IP:
            ulen = int.from_bytes(f[38:40], "big")
            out.append(f[42:34 + ulen])
    return out


def _echo_round(peer: Peer, mac: bytes, datagrams: list[bytes]) -> int:
    """Send each valid datagram (the peer announces itself first); how many came back."""
    peer.send(eth(mac, PEER_MAC, 0x0806, arp(1, PEER_MAC, PEER_IP, b"\0" * 6, GUEST_IP)))
    back = 0
    for d in datagrams:
        frame = eth(mac, PEER_MAC, 0x0800, ipv4(PEER_IP, GUEST_IP, 17,
                                                udp(PEER_IP, GUEST_IP, 40000, 7, d)))
        for _attempt in range(3):
            seen = d in _udp_payloads(peer.send(frame))
            deadline = time.monotonic() + 2.0
            while time.monotonic() < deadline and not seen:
                seen = d in _udp_payloads(peer.frames(min(deadline, time.monotonic() + 0.2)))
            if seen:
                back += 1
                break
    return back


@needs_tools
@needs_qemu
def test_hostile_frames_are_dropped_and_counted(tmp_path: Path) -> None:
    """Thousands of seeded hostile frames; the guest never crashes or hangs, its
    heap guard (canary) finds nothing, it counts its drops, and it still echoes."""
    out_dir = tmp_path / "out"
    r = unilang("build", str(FUZZ), "-o", str(out_dir))
    assert r.returncode == 0, r.stderr
    proc, peer, sockdir = start_dgram_guest(out_dir, "unet")
    try:
        # the gratuitous ARP at start tells us the guest's MAC
        mac = None
        deadline = time.monotonic() + 60
        while mac is None and time.monotonic() < deadline and proc.poll() is None:
            for f in peer.frames(time.monotonic() + 0.5):
                if f[12:14] == b"\x08\x06" and f[14 + 24:14 + 28] == GUEST_IP:
                    mac = f[6:12]
        assert mac is not None, "no gratuitous ARP from the guest"
        assert _echo_round(peer, mac, [b"before"]) == 1
        rng = random.Random(SEED)
        for n, frame in enumerate(hostile_frames(rng, mac)):
            peer.send(frame)
            if n % 200 == 199:
                peer.frames(time.monotonic() + 0.01)  # drain what the guest sent back
                assert proc.poll() is None, f"QEMU exited after {n + 1} frames"
        valid = [b"after %d " % n + bytes(rng.getrandbits(8) for _ in range(n * 37 % 1400))
                 for n in range(30)]
        echoed = _echo_round(peer, mac, valid)
        out, err = quit_guest(proc, peer, mac, " after the hostile frames:")
    finally:
        close_guest(proc, peer, sockdir)
    assert proc.returncode == 1, (out, err)  # guest exit 0: not 42 (guard), not a crash
    assert echoed == len(valid), out
    assert "netfuzz: heap ok" in out, out
    c = {k: int(v) for k, v in re.findall(r"^(\w+)=(\d+)$", out, re.M)}
    for counter in ("eth_drop_short", "eth_drop_oversized", "eth_drop_not_for_us",
                    "eth_drop_ethertype", "arp_drop_malformed", "arp_drop_spoofed",
                    "arp_evicted", "ip_drop_total_length", "ip_drop_checksum", "ip_drop_options",
                    "ip_drop_fragment", "ip_drop_ttl", "ip_drop_bad_source", "ip_drop_not_for_us",
                    "ip_drop_protocol", "ip_drop_version", "udp_drop_length", "udp_drop_checksum",
                    "udp_drop_short", "udp_drop_no_socket", "icmp_drop_checksum",
                    "icmp_drop_type"):
        assert c.get(counter, 0) > 0, (counter, out)
    assert c["udp_tx"] >= len(valid) + 1
    print(" ".join(f"{k}={v}" for k, v in c.items()))
