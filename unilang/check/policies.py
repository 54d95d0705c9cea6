"""Pass 2 for a policy block -> ``model.Policy``, and cycles among policy includes."""

from __future__ import annotations

from .. import model as M
from ..front import syntax as S
from ..diagnostics import Label, one_of
from ..loader import LoadedModule
from .base import field_text
from .netspecs import NetSpecs
from .schema import POLICY_KEYS, Schema
from .symbols import Symbols


class Policies(Schema, Symbols, NetSpecs):
    """Builds ``model.Policy`` from a policy block; include cycles."""

    def policy(self, block: S.Block, mod: LoadedModule) -> M.Policy:
        f = self.fields("policy", block.name, block.members, POLICY_KEYS)
        v = f.values
        for m in block.members:
            if not isinstance(m, S.Field):
                kind = type(m).__name__.lower()
                self.err("U0032", f"`{kind}` is not allowed in a policy", m.span,
                         notes=(f"a policy has the keys {one_of(POLICY_KEYS)}",))
        rules = [M.Rule(r, False) for r in self.refs(v.get("deny"), self.capability_ref)]
        allow = self.refs(v.get("allow"), self.capability_ref)
        denied = {r.capability.name: r.capability.span for r in rules}
        for a in allow:
            if a.name in denied:
                self.err("U0033", f"policy `{block.name}` both denies and allows `{a.name}`",
                         a.span, labels=(Label(denied[a.name], "denied here"),))
                continue
            rules.append(M.Rule(a, True))

        def limit(key: str) -> M.Limit | None:
            val = self.number(v.get(key), POLICY_KEYS)
            return M.Limit(val, v[key].value.span) if val is not None else None

        includes = self.refs(v.get("include"), self.policy_ref)
        for inc in includes:
            if inc.name == block.name:
                self.err("U0046", f"policy `{block.name}` includes itself", inc.span)
        return M.Policy(
            name=block.name, span=block.name_span, module=mod.info.name,
            doc=field_text(v.get("doc")),
            includes=tuple(i for i in includes if i.name != block.name),
            rules=tuple(rules),
            forbid=self.refs(v.get("forbid"), self.library_ref),
            require=self.refs(v.get("require"), self.construct_ref),
            max_memory=limit("max_memory"),
            max_vcpus=limit("max_vcpus"),
            max_image_size=limit("max_image_size"),
            listen=self.port_specs(v["listen"], False) if "listen" in v else None,
            listen_span=v["listen"].value.span if "listen" in v else None,
            peers=self.cidrs(v["peers"]) if "peers" in v else None,
            peers_span=v["peers"].value.span if "peers" in v else None,
            send=v["send"].value.value if "send" in v else None,  # type: ignore[union-attr]
            send_span=v["send"].value.span if "send" in v else None,
        )

    def policy_include_cycles(self, policies: dict[str, M.Policy]) -> None:
        from ..graphs import cycles

        spans = {(p.name, i.name): i.span for p in policies.values() for i in p.includes
                 if i.name in policies}
        for cycle in cycles(policies, spans):
            names = [a for a, _ in cycle] + [cycle[0][0]]
            labels = [Label(spans[a, b], f"`{a}` includes `{b}`") for a, b in cycle]
            self.err("U0046", "policy include cycle: " + " -> ".join(names), labels[0].span,
                     labels=labels[1:])
