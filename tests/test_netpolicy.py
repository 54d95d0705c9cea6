"""Network policies that hold at run time: `listen`, `peers` and `send` in the
language, checked against the ports an app and its libraries declare, compiled
into read-only tables, and enforced by the stack in a booted image.

The QEMU test reuses tests/test_net.py's raw-frame harness (`-netdev dgram`)."""

from __future__ import annotations

import random
import re
import subprocess
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from support import ROOT, needs_qemu, needs_tools, unilang
from test_net import (GUEST_IP, PEER_IP, PEER_MAC, Peer, _echo_round, close_guest, csum, eth, ipv4,
                      quit_guest, start_dgram_guest, udp)

APP = ROOT / "tests" / "apps" / "netpolicy" / "netpolicy.uni"
DRIVER = ROOT / "tests" / "host_c" / "netpolicy_driver.c"
IPV4_SRC = ROOT / "stdlib" / "lib" / "ipv4" / "src"
IPV4_INC = ROOT / "stdlib" / "lib" / "ipv4" / "include"


def _resolve(tmp_path: Path, text: str, backend: str = "kvm"):  # type: ignore[no-untyped-def]
    from unilang.driver import check_spec

    spec = tmp_path / "app.uni"
    spec.write_text(text)
    (tmp_path / "main.c").write_text("int main(void) { return 0; }\n")
    session, results = check_spec(spec, [backend])
    return session.sink.sorted(), results[0].resolution


NET_APP = """
app a {{
    sources = ["main.c"];
    requires = [net.udp];
    {extra}
    device net0 {{ kind = net; }}
}}
"""


# ------------------------------------------------------------------ the rules

def test_rules_of_several_policies_meet(tmp_path: Path) -> None:
    """Every policy that sets `listen` or `peers` restricts: the image gets the
    intersection; one `send = false` anywhere (includes too) forbids sending."""
    diags, res = _resolve(tmp_path, """
policy web { listen = ["udp:7", "tcp:80", "udp:5000-5099"]; peers = ["10.0.2.0/24", "192.0.2.7"]; }
policy lan { listen = ["udp:1-100", "udp:5050-6000"]; peers = ["10.0.0.0/8"]; }
policy quiet { send = false; }
policy both { include = [lan, quiet]; }
""" + NET_APP.format(extra='listens = ["udp:7"]; policies = [web, both];'))
    assert [d.code for d in diags] == []
    assert res.net.as_json() == {"listen": ["udp:7", "udp:5050-5099"],
                                 "peers": ["10.0.2.0/24"], "send": False}


def test_no_rules_restrict_nothing(tmp_path: Path) -> None:
    diags, res = _resolve(tmp_path, NET_APP.format(extra=""))
    assert diags == [] and res.net.as_json() == {"listen": None, "peers": None, "send": True}
    assert not res.net.restricts


def test_library_ports_come_from_its_parameters(tmp_path: Path) -> None:
    """A library's `listens = ["tcp:port"]` is its `port` parameter's resolved value."""
    lib = """
construct web.serve "Serve";
library srv { provides = [web.serve]; requires = [net.udp]; listens = ["tcp:port"];
              param port: int = 80 in 1 .. 65535; }
policy web { listen = ["tcp:80"]; }
"""
    app = NET_APP.replace("[net.udp]", "[web.serve]")
    diags, _res = _resolve(tmp_path, lib + app.format(extra="policies = [web];"))
    assert diags == []
    diags, _res = _resolve(tmp_path, lib + app.format(
        extra="policies = [web]; set srv.port = 8080;"))
    assert [(d.code, d.message) for d in diags] == [
        ("U0157", "library `srv` listens on tcp:8080, which policy `web` does not allow")]


def test_library_port_parameter_must_be_a_port(tmp_path: Path) -> None:
    diags, _res = _resolve(tmp_path, """
library srv { listens = ["tcp:port", "udp:name", "udp:nope"];
              param port: int = 80 in 0 .. 70000; param name: string = "x"; }
app a { sources = ["main.c"]; requires = [console]; }
""")
    assert [(d.code, d.message) for d in diags] == [
        ("U0155", "`listens` entry `tcp:port`: parameter `srv.port` may be outside the ports "
                  "1 to 65535"),
        ("U0155", "`listens` entry `udp:name` names `name`, which is not an int parameter of "
                  "library `srv`"),
        ("U0155", "`listens` entry `udp:nope` names `nope`, which is not an int parameter of "
                  "library `srv`"),
    ]


def test_port_listed_twice(tmp_path: Path) -> None:
    diags, _res = _resolve(tmp_path, """
policy p { listen = ["udp:7", "udp:7"]; }
app a { sources = ["main.c"]; requires = [console]; }
""")
    assert [(d.code, d.message) for d in diags] == [
        ("U0033", "`udp:7` is listed more than once in `listen`")]


def test_offline_still_keeps_the_network_out(tmp_path: Path) -> None:
    diags, res = _resolve(tmp_path, NET_APP.format(extra="policies = [offline];"))
    assert {d.code for d in diags} == {"U0107"}
    assert not res.ok


def test_table_is_generated_as_numbers() -> None:
    from unilang.diagnostics import Span
    from unilang.emit.netpolicy import table_lines
    from unilang.netrules import Cidr, NetRules, PortRange

    s = Span("x", 1, 1, 1, 2)
    rules = NetRules((PortRange("tcp", 80, 80, s), PortRange("udp", 5000, 5099, s)),
                     (Cidr(0x0A000200, 24, s),), False)
    assert "\n".join(table_lines(rules)) == """\
/* The network policy of the applied policies (see <unilang/netpolicy.h>). */
#include <unilang/netpolicy.h>

static const struct unilang_port_rule unilang_netpolicy_listen[] = {
    {6, 80, 80}, /* tcp:80 */
    {17, 5000, 5099}, /* udp:5000-5099 */
};
static const struct unilang_peer_rule unilang_netpolicy_peers[] = {
    {0x0a000200u, 0xffffff00u}, /* 10.0.2.0/24 */
};
const struct unilang_netpolicy unilang_netpolicy = {
    .restrict_listen = 1,
    .restrict_peers = 1,
    .may_send = 0,
    .nlisten = 2,
    .npeers = 1,
    .listen = unilang_netpolicy_listen,
    .peers = unilang_netpolicy_peers,
};
"""
    empty = "\n".join(table_lines(NetRules()))
    assert ".restrict_listen = 0," in empty and ".listen = 0," in empty and "[]" not in empty


# ------------------------------------------------ the lookups, compiled for the host

@needs_tools
@pytest.mark.parametrize("case", ["restricted", "open", "nothing"])
def test_lookups_match_the_rules(tmp_path: Path, case: str) -> None:
    """netpolicy.c with a generated table, on the host, against NetRules' own answers."""
    from unilang.diagnostics import Span
    from unilang.emit.netpolicy import table_lines
    from unilang.netrules import Cidr, NetRules, PortRange

    s = Span("x", 1, 1, 1, 2)
    rules = {
        "restricted": NetRules((PortRange("udp", 7, 7, s), PortRange("tcp", 8000, 8099, s)),
                               (Cidr(0x0A000200, 24, s), Cidr(0xC0000207, 32, s),
                                Cidr(0xAC100000, 12, s)), False),
        "open": NetRules(),
        "nothing": NetRules((), (), True),  # listen = []; peers = []
    }[case]
    table = tmp_path / "table.c"
    table.write_text("\n".join(table_lines(rules)))
    exe = tmp_path / "lookup"
    r = subprocess.run(["gcc", "-std=c11", "-O2", "-Wall", "-Wextra", "-Werror", f"-I{IPV4_INC}",
                        "-o", str(exe), str(DRIVER), str(IPV4_SRC / "netpolicy.c"), str(table)],
                       capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stderr
    rng = random.Random(13)
    ports = [(p, n) for p in (6, 17) for n in (1, 6, 7, 8, 7999, 8000, 8050, 8099, 8100, 65535)]
    ports += [(rng.choice((6, 17)), rng.randint(1, 65535)) for _ in range(200)]
    addrs = [0x0A000200, 0x0A0002FF, 0x0A000300, 0x0A0001FF, 0xC0000207, 0xC0000208,
             0xAC100000, 0xAC1FFFFF, 0xAC200000, 0, 0xFFFFFFFF]
    addrs += [rng.getrandbits(32) for _ in range(300)]
    queries = [f"L {p} {n}" for p, n in ports] + [f"P {a}" for a in addrs] + ["S"]
    out = subprocess.run([str(exe)], input="\n".join(queries) + "\n", capture_output=True,
                         text=True, timeout=60, check=False)
    assert out.returncode == 0, out.stderr
    proto = {6: "tcp", 17: "udp"}
    want = [f"L {p} {n} {int(rules.may_listen(proto[p], n))}" for p, n in ports]
    want += [f"P {a} {int(rules.peers is None or any((a & c.mask) == c.addr for c in rules.peers))}"
             for a in addrs]
    want += [f"S {int(rules.send)}"]
    assert out.stdout.splitlines() == want


# ------------------------------------------------------------------ in the image

@needs_tools
def test_the_table_is_read_only_data(tmp_path: Path) -> None:
    """`unilang_netpolicy` and its arrays sit in .rodata, in a segment without write
    permission; inspect shows the rules from the image."""
    from elftools.elf.elffile import ELFFile

    out = tmp_path / "out"
    r = unilang("build", str(APP), "-o", str(out))
    assert r.returncode == 0, r.stderr
    with open(out / "netpolicy.debug.elf", "rb") as f:
        elf = ELFFile(f)
        symtab = elf.get_section_by_name(".symtab")
        syms = {s.name: s for s in symtab.iter_symbols()  # type: ignore[union-attr]
                if s.name.startswith("unilang_netpolicy")}
        assert set(syms) == {"unilang_netpolicy", "unilang_netpolicy_listen",
                             "unilang_netpolicy_peers"}
        for sym in syms.values():
            assert elf.get_section(sym["st_shndx"]).name == ".rodata"
            addr = sym["st_value"]
            seg = next(s for s in elf.iter_segments() if s["p_type"] == "PT_LOAD"
                       and s["p_vaddr"] <= addr < s["p_vaddr"] + s["p_memsz"])
            assert seg["p_flags"] & 2 == 0, "the policy table is in a writable segment"
    r = unilang("inspect", str(out / "netpolicy.elf"))
    assert r.returncode == 0, r.stderr
    assert "run-time rules (network):\n  listen: udp:7\n  peers: 10.0.2.0/24\n  send: allowed\n" \
        in r.stdout, r.stdout


def _guest_mac(proc: subprocess.Popen[str], peer: Peer) -> bytes:
    """The guest's MAC, from its gratuitous ARP at start (at most 60 s)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        for f in peer.frames(time.monotonic() + 0.5):
            if f[12:14] == b"\x08\x06" and f[14 + 24:14 + 28] == GUEST_IP:
                return f[6:12]
    raise AssertionError("no gratuitous ARP from the guest")


FORGED_SOURCES = [bytes([192, 0, 2, 99]), bytes([172, 16, 0, 1]), bytes([10, 0, 3, 5]),
                  bytes([8, 8, 8, 8])]


@needs_tools
@needs_qemu
def test_policy_holds_in_the_running_image(tmp_path: Path) -> None:
    """The guest's bind of udp:8 and its send to 192.0.2.1 fail with -4; forged
    datagrams (even `quit`) and pings from outside 10.0.2.0/24 are dropped and
    counted, never echoed; a peer inside still gets its echo; the exit code is
    the refused bind's error, negated (4)."""
    out_dir = tmp_path / "out"
    r = unilang("build", str(APP), "-o", str(out_dir))
    assert r.returncode == 0, r.stderr
    proc, peer, sockdir = start_dgram_guest(out_dir, "unpol")
    try:
        mac = _guest_mac(proc, peer)
        assert _echo_round(peer, mac, [b"before"]) == 1
        forged = 0
        back: list[bytes] = []
        for n in range(40):
            src = FORGED_SOURCES[n % len(FORGED_SOURCES)]
            data = b"quit" if n % 5 == 0 else b"forged %d" % n
            back += peer.send(eth(mac, PEER_MAC, 0x0800,
                                  ipv4(src, GUEST_IP, 17, udp(src, GUEST_IP, 40000, 7, data))))
            icmp = bytes([8, 0, 0, 0, 0, 1, 0, n])
            back += peer.send(eth(mac, PEER_MAC, 0x0800, ipv4(src, GUEST_IP, 1, icmp)))
            forged += 2
        back += peer.frames(time.monotonic() + 1.0)
        assert proc.poll() is None, "a forged `quit` reached the app"
        assert not [f for f in back if f[12:14] == b"\x08\x00"], "the guest answered a forged packet"
        assert _echo_round(peer, mac, [b"after"]) == 1
        out, err = quit_guest(proc, peer, mac, " under the network policy:")
    finally:
        close_guest(proc, peer, sockdir)
    assert "netpolicy: bind udp:8 -> -4 (refused by the policy)" in out, out
    assert "netpolicy: bind udp:7 -> 0" in out, out
    assert "netpolicy: send to 192.0.2.1 -> -4 (refused by the policy)" in out, out
    assert "netpolicy: quit from 10.0.2.2" in out, out
    c = {k: int(v) for k, v in re.findall(r"^(\w+)=(\d+)$", out, re.M)}
    assert c["policy_refused_listen"] == 1, out
    assert c["policy_drop_peer"] == forged, out
    assert c["policy_drop_send"] == 1, out
    assert c["udp_rx"] >= 3 and c["icmp_rx"] == 0, out  # before, after, quit (and resends)
    assert proc.returncode == (4 << 1) | 1, (out, err)  # isa-debug-exit: guest exit code 4


@needs_tools
@needs_qemu
def test_receive_only_policy_sends_nothing(tmp_path: Path) -> None:
    """The same app under `send = false`: datagrams and pings from a peer arrive
    (and `quit` works) but nothing IPv4 leaves the guest; every send is refused
    and counted. ARP, below IPv4, still answers."""
    spec = tmp_path / "netpolicy.uni"
    spec.write_text(APP.read_text().replace('peers = ["10.0.2.0/24"];', "send = false;"))
    (tmp_path / "netpolicy.c").write_text((APP.parent / "netpolicy.c").read_text())
    out_dir = tmp_path / "out"
    r = unilang("build", str(spec), "-o", str(out_dir))
    assert r.returncode == 0, r.stderr
    assert "  send: refused\n" in unilang("inspect", str(out_dir / "netpolicy.elf")).stdout
    proc, peer, sockdir = start_dgram_guest(out_dir, "unpol")
    try:
        mac = _guest_mac(proc, peer)
        assert _echo_round(peer, mac, [b"one", b"two"]) == 0  # announces the peer by ARP
        back: list[bytes] = []
        for n in range(5):
            icmp = bytes([8, 0, 0, 0, 0, 1, 0, n])
            icmp = icmp[:2] + csum(icmp).to_bytes(2, "big") + icmp[4:]
            back += peer.send(eth(mac, PEER_MAC, 0x0800, ipv4(PEER_IP, GUEST_IP, 1, icmp)))
        back += peer.frames(time.monotonic() + 1.0)
        assert not [f for f in back if f[12:14] == b"\x08\x00"], "the guest sent IPv4"
        out, err = quit_guest(proc, peer, mac, " under send = false:")
    finally:
        close_guest(proc, peer, sockdir)
    assert "netpolicy: send to 192.0.2.1 -> -4 (refused by the policy)" in out, out
    assert "netpolicy: quit from 10.0.2.2" in out, out
    c = {k: int(v) for k, v in re.findall(r"^(\w+)=(\d+)$", out, re.M)}
    # the send at start, each echo attempt (3 per datagram), each ping reply
    assert c["policy_drop_send"] == 1 + 2 * 3 + 5, out
    assert c["icmp_rx"] == 5 and c["policy_drop_peer"] == 0, out
    assert proc.returncode == (4 << 1) | 1, (out, err)



# ------------------------------------------------------------------ the set algebra


def _span():  # type: ignore[no-untyped-def]
    from unilang.diagnostics import Span

    return Span("x", 1, 1, 1, 2)


_cidr = st.builds(lambda a, n: (a & ((0xFFFFFFFF << (32 - n)) & 0xFFFFFFFF), n),
                  st.integers(0, 2**32 - 1), st.integers(0, 32))
_ports = st.builds(lambda p, a, b: (p, min(a, b), max(a, b)), st.sampled_from(["udp", "tcp"]),
                   st.integers(1, 65535), st.integers(1, 65535))


@given(st.lists(_cidr, max_size=5), st.lists(_cidr, max_size=5),
       st.lists(st.integers(0, 2**32 - 1), min_size=1, max_size=30))
def test_peer_intersection_is_the_set_intersection(a, b, addrs) -> None:  # type: ignore[no-untyped-def]
    from unilang.netrules import Cidr, intersect_cidrs

    ca = [Cidr(x, n, _span()) for x, n in a]
    cb = [Cidr(x, n, _span()) for x, n in b]
    both = intersect_cidrs(ca, cb)
    # also probe the ranges' own edges
    addrs = addrs + [c.addr for c in ca + cb] + [c.addr | ~c.mask & 0xFFFFFFFF for c in ca + cb]

    def inside(cs, x):  # type: ignore[no-untyped-def]
        return any((x & c.mask) == c.addr for c in cs)

    for x in addrs:
        assert inside(both, x) == (inside(ca, x) and inside(cb, x))
    assert all(not o.contains(c) for c in both for o in both if o is not c)


@given(st.lists(_ports, max_size=5), st.lists(_ports, max_size=5),
       st.lists(st.tuples(st.sampled_from(["udp", "tcp"]), st.integers(1, 65535)), max_size=30))
def test_port_intersection_is_the_set_intersection(a, b, probes) -> None:  # type: ignore[no-untyped-def]
    from unilang.netrules import NetRules, PortRange, intersect_ports

    pa = [PortRange(p, lo, hi, _span()) for p, lo, hi in a]
    pb = [PortRange(p, lo, hi, _span()) for p, lo, hi in b]
    both = NetRules(tuple(intersect_ports(pa, pb)))
    probes = probes + [(r.proto, n) for r in pa + pb for n in (r.low, r.high)]
    for proto, n in probes:
        want = NetRules(tuple(pa)).may_listen(proto, n) and NetRules(tuple(pb)).may_listen(proto, n)
        assert both.may_listen(proto, n) == want


def test_declared_ports_without_a_stack_are_a_warning(tmp_path: Path) -> None:
    diags, res = _resolve(tmp_path, """
app a { sources = ["main.c"]; requires = [console]; listens = ["udp:7"]; }
""")
    assert [(d.code, d.message) for d in diags] == [
        ("U0159", "app `a` declares `listens`, but the image has no network stack (nothing "
                  "provides `net.ip`)")]
    assert res.ok


@needs_tools
@needs_qemu
def test_tcp_listen_on_a_forbidden_port_gets_the_policy_error(tmp_path: Path) -> None:
    """tcp's listen asks the same table: tcp-echo under a policy that allows only
    udp:9 cannot listen on tcp:7, sees UNILANG_TCP_EPOLICY (-4) and exits 1."""
    tcp = ROOT / "tests" / "apps" / "tcp-echo"
    (tmp_path / "tcp-echo.c").write_text((tcp / "tcp-echo.c").read_text())
    spec = tmp_path / "tcp-echo.uni"
    spec.write_text('policy udp-only { listen = ["udp:9"]; }\n' + (tcp / "tcp-echo.uni")
                    .read_text().replace("memory = 16 MiB;",
                                         "memory = 16 MiB;\n    policies = [udp-only];"))
    r = unilang("run", str(spec), "-o", str(tmp_path / "out"), "--timeout", "240")
    assert "tcp-echo: listen failed (-4)\n" in r.stdout, r.stdout + r.stderr
    assert r.returncode == 1, r.stderr
