"""Network policy values: port specs (``"udp:7"``, ``"tcp:8000-8099"``) and peer
ranges (``"10.0.2.0/24"``), their parsing, and the run-time rules an image
carries (``NetRules``: what ``unilang.policy`` computes from the applied
policies and ``unilang.emit.cgen`` compiles into read-only tables).

Parsing returns either the value or a message saying what is wrong; the
checker turns a message into a diagnostic at the string's span.
"""

from __future__ import annotations

import re
from typing import Iterable

import attrs

from .diagnostics import Span

#: The transport protocols a port spec names, with their IPv4 protocol numbers.
PROTOCOLS = {"tcp": 6, "udp": 17}

#: Patterns compiled on first use (``re``'s cache), not by every `check` that
#: imports this module: most specs name no port and no address range.
_PORT_SPEC = r"([a-z]+):(?:([0-9]{1,5})(?:-([0-9]{1,5}))?|([A-Za-z_][A-Za-z0-9_]*))\Z"
_CIDR = r"([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})(?:/([0-9]{1,2}))?\Z"


@attrs.frozen
class PortRange:
    """``proto:low-high`` (``proto:port`` is ``low == high``), or, in a library,
    ``proto:PARAM``: the port is the value of the library's int parameter."""

    proto: str
    low: int
    high: int
    span: Span
    param: str | None = None

    def text(self) -> str:
        if self.param is not None:
            return f"{self.proto}:{self.param}"
        return f"{self.proto}:{self.low}" if self.low == self.high \
            else f"{self.proto}:{self.low}-{self.high}"

    def covers(self, other: PortRange) -> bool:
        return self.proto == other.proto and self.low <= other.low and other.high <= self.high


@attrs.frozen
class Cidr:
    """An IPv4 prefix: ``addr`` (host order, host bits zero) and its length."""

    addr: int
    prefix: int
    span: Span

    @property
    def mask(self) -> int:
        return (0xFFFFFFFF << (32 - self.prefix)) & 0xFFFFFFFF

    def contains(self, other: Cidr) -> bool:
        return other.prefix >= self.prefix and (other.addr & self.mask) == self.addr

    def text(self) -> str:
        return f"{dotted(self.addr)}/{self.prefix}"


def dotted(addr: int) -> str:
    return ".".join(str(addr >> s & 255) for s in (24, 16, 8, 0))


def parse_port_spec(text: str, span: Span, allow_param: bool) -> PortRange | str:
    """A ``PortRange``, or what is wrong with ``text``."""
    m = re.match(_PORT_SPEC, text)
    if m is None:
        return "is not a port: write `udp:PORT`, `tcp:PORT` or `udp:LOW-HIGH`"
    proto, low, high, param = m.groups()
    if proto not in PROTOCOLS:
        return f"names the protocol `{proto}`; the protocols are udp and tcp"
    if param is not None:
        if not allow_param:
            return "does not give a port number (only a library may name a parameter)"
        return PortRange(proto, 0, 0, span, param)
    lo = int(low)
    hi = int(high) if high is not None else lo
    for n in (lo, hi):
        if not 1 <= n <= 65535:
            return f"has port {n}; ports are 1 to 65535"
    if hi < lo:
        return f"is an empty range: {lo} is above {hi}"
    return PortRange(proto, lo, hi, span)


def parse_cidr(text: str, span: Span) -> Cidr | str:
    """A ``Cidr`` (a bare address is a /32), or what is wrong with ``text``."""
    m = re.match(_CIDR, text)
    if m is None:
        return "is not an IPv4 address range: write `A.B.C.D/LEN` or `A.B.C.D`"
    parts = [int(g) for g in m.groups()[:4]]
    if any(p > 255 for p in parts):
        return "has a part above 255"
    prefix = int(m.group(5)) if m.group(5) is not None else 32
    if prefix > 32:
        return f"has the prefix length {prefix}; it is at most 32"
    addr = parts[0] << 24 | parts[1] << 16 | parts[2] << 8 | parts[3]
    c = Cidr(addr, prefix, span)
    if addr & ~c.mask & 0xFFFFFFFF:
        return f"has host bits set below /{prefix}: the range is `{dotted(addr & c.mask)}/{prefix}`"
    return c


def intersect_cidrs(a: Iterable[Cidr], b: Iterable[Cidr]) -> list[Cidr]:
    """The addresses in both unions of prefixes, as prefixes (two prefixes meet
    only when one holds the other; the longer one is the meeting)."""
    out = []
    bs = list(b)
    for x in a:
        for y in bs:
            if x.contains(y):
                out.append(y)
            elif y.contains(x):
                out.append(x)
    return normal_cidrs(out)


def normal_cidrs(cs: Iterable[Cidr]) -> list[Cidr]:
    """Sorted, each range once, none inside another."""
    uniq = sorted({(c.addr, c.prefix): c for c in cs}.values(), key=lambda c: (c.addr, c.prefix))
    return [c for c in uniq if not any(o is not c and o.contains(c) for o in uniq)]


def intersect_ports(a: Iterable[PortRange], b: Iterable[PortRange]) -> list[PortRange]:
    out = []
    bs = list(b)
    for x in a:
        for y in bs:
            if x.proto == y.proto and max(x.low, y.low) <= min(x.high, y.high):
                out.append(attrs.evolve(x, low=max(x.low, y.low), high=min(x.high, y.high)))
    return normal_ports(out)


def normal_ports(ps: Iterable[PortRange]) -> list[PortRange]:
    """Sorted by protocol number then port, overlapping or adjacent ranges merged."""
    out: list[PortRange] = []
    for p in sorted(ps, key=lambda p: (PROTOCOLS[p.proto], p.low, p.high)):
        if out and out[-1].proto == p.proto and p.low <= out[-1].high + 1:
            if p.high > out[-1].high:
                out[-1] = attrs.evolve(out[-1], high=p.high)
            continue
        out.append(p)
    return out


#: The run-time network rules: (policy key, what it allows, where the stack
#: enforces it, what the app sees, the counter in ``unilang_net_stats``).
#: docs/stdlib.md is generated from this table.
RUNTIME_RULES = (
    ("listen", "the ports the image may listen on (`\"udp:7\"`, `\"tcp:8000-8099\"`)",
     "`unilang_udp_bind`, `unilang_tcp_listen`",
     "`UNILANG_UDP_EPOLICY`, `UNILANG_TCP_EPOLICY` (-4)", "policy_refused_listen"),
    ("peers", "the IPv4 addresses the image may talk to (`\"10.0.2.0/24\"`, `\"192.0.2.7\"`)",
     "ipv4's input, before any protocol: a packet from outside is dropped; "
     "`unilang_ipv4_send` to a unicast address outside",
     "nothing (dropped); -4 from a send", "policy_drop_peer, policy_drop_send"),
    ("send", "whether the image may send at all (`false`: receive only)",
     "`unilang_ipv4_send`, under every protocol (udp, tcp, icmp replies, dhcp)",
     "-4 from `unilang_udp_send` / `unilang_ipv4_send`", "policy_drop_send"),
)


@attrs.frozen
class NetRules:
    """The network rules of an image, from all its applied policies together:
    None for ``listen`` or ``peers`` means no policy restricts it."""

    listen: tuple[PortRange, ...] | None = None
    peers: tuple[Cidr, ...] | None = None
    send: bool = True

    @property
    def restricts(self) -> bool:
        return self.listen is not None or self.peers is not None or not self.send

    def may_listen(self, proto: str, port: int) -> bool:
        return self.listen is None or any(r.proto == proto and r.low <= port <= r.high
                                          for r in self.listen)

    def as_json(self) -> dict[str, object]:
        """What the manifest note and ``unilang inspect`` say."""
        return {
            "listen": None if self.listen is None else [p.text() for p in self.listen],
            "peers": None if self.peers is None else [c.text() for c in self.peers],
            "send": self.send,
        }
