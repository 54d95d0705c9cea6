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
