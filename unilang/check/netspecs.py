"""Network values in specs: port specs (`listen` of a policy, `listens` of an app
or a library) and peer ranges (`peers` of a policy), each string checked at its
own span (U0155, U0156); the parsing itself is ``unilang.netrules``'s."""

from __future__ import annotations

from ..diagnostics import Label, Span
from ..front import syntax as S
from ..netrules import Cidr, PortRange, parse_cidr, parse_port_spec
from .base import Base


class NetSpecs(Base):
    """Builds the network values of policies, apps and libraries."""

    def port_specs(self, f: S.Field | None, allow_param: bool) -> tuple[PortRange, ...]:
        if f is None:
            return ()
        assert isinstance(f.value, S.List)
        out: list[PortRange] = []
        seen: dict[str, Span] = {}
        for item in f.value.items:
            assert isinstance(item, S.Str)
            got = parse_port_spec(item.value, item.span, allow_param)
            if isinstance(got, str):
                self.err("U0155", f"`{f.key}` entry {S.render_value(item)} {got}", item.span,
                         help='for example `["udp:7", "tcp:80", "udp:5000-5099"]`')
                continue
            key = got.text()
            if key in seen:
                self.err("U0033", f"`{key}` is listed more than once in `{f.key}`", item.span,
                         labels=(Label(seen[key], "first listed here"),))
                continue
            seen[key] = item.span
            out.append(got)
        return tuple(out)

    def cidrs(self, f: S.Field | None) -> tuple[Cidr, ...]:
        if f is None:
            return ()
        assert isinstance(f.value, S.List)
        out: list[Cidr] = []
        for item in f.value.items:
            assert isinstance(item, S.Str)
            got = parse_cidr(item.value, item.span)
            if isinstance(got, str):
                self.err("U0156", f"`{f.key}` entry {S.render_value(item)} {got}", item.span,
                         help='for example `["10.0.2.0/24", "192.0.2.7"]`')
                continue
            out.append(got)
        return tuple(out)
