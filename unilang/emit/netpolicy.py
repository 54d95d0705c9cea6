"""The network policy's run-time table: C for ``unilang_init.c``.

``unilang_netpolicy`` (declared in ``<unilang/netpolicy.h>``, stdlib/lib/ipv4)
and its two rule arrays are ``const``, so they land in ``.rodata``, which the
image maps read-only; the IPv4 layer looks ports and peers up in them.  Emitted
only when the image has a network stack (a library provides ``net.ip``)."""

from __future__ import annotations

from ..netrules import PROTOCOLS, NetRules
from ..resolve import Resolution
from . import escape as E

NET_IP = "net.ip"


def has_stack(res: Resolution) -> bool:
    return any(c.name == NET_IP for s in res.selected.values() for c in s.library.provides)


def table_lines(rules: NetRules) -> list[str]:
    """The table, as lines of C (numbers only: nothing from the spec is spelt out)."""
    out = ["/* The network policy of the applied policies (see <unilang/netpolicy.h>). */",
           "#include <unilang/netpolicy.h>", ""]
    listen = rules.listen or ()
    peers = rules.peers or ()
    if listen:
        out.append("static const struct unilang_port_rule unilang_netpolicy_listen[] = {")
        for p in listen:
            out.append(f"    {{{PROTOCOLS[p.proto]}, {p.low}, {p.high}}}, "
                       f"/* {E.c_comment(p.text())} */")
        out.append("};")
    if peers:
        out.append("static const struct unilang_peer_rule unilang_netpolicy_peers[] = {")
        for c in peers:
            out.append(f"    {{0x{c.addr:08x}u, 0x{c.mask:08x}u}}, "
                       f"/* {E.c_comment(c.text())} */")
        out.append("};")
    out += [
        "const struct unilang_netpolicy unilang_netpolicy = {",
        f"    .restrict_listen = {0 if rules.listen is None else 1},",
        f"    .restrict_peers = {0 if rules.peers is None else 1},",
        f"    .may_send = {1 if rules.send else 0},",
        f"    .nlisten = {len(listen)},",
        f"    .npeers = {len(peers)},",
        f"    .listen = {'unilang_netpolicy_listen' if listen else '0'},",
        f"    .peers = {'unilang_netpolicy_peers' if peers else '0'},",
        "};",
        "",
    ]
    return out
