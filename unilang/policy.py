"""Policy and resource checks over a resolved image.

Capability verdicts: a policy's own rule for a capability decides; without
one, the policies it includes decide, and among them a deny wins over an
allow.  Among the app's applied policies any deny wins.  ``forbid`` and
``require`` and the limits of a policy apply together with those of every
policy it includes.
"""

from __future__ import annotations

from typing import Callable

import attrs

from . import model as M
from .diagnostics import Diagnostic, Label, Severity, Sink, Span, error, warning
from .model import policy_closure
from .resolve import Resolution, Selected, Verdict, chain_str
from .units import fmt_size


def capability_verdict(p: M.Program, policy: str, cap: str,
                       visiting: frozenset[str] = frozenset()) -> tuple[bool, Span, str] | None:
    """(allowed, rule span, deciding policy) for ``cap`` under ``policy``, or None."""
    pol = p.policies.get(policy)
    if pol is None or policy in visiting:
        return None
    for rule in pol.rules:
        if rule.capability.name == cap:
            return (rule.allow, rule.capability.span, pol.name)
    found = [capability_verdict(p, inc.name, cap, visiting | {policy}) for inc in pol.includes]
    decided = [v for v in found if v is not None]
    for v in decided:
        if not v[0]:
            return v
    return decided[0] if decided else None


def check_policies(p: M.Program, res: Resolution, sink: Sink) -> Resolution:
    """The policy stage, after resolution: ``res`` with the app's policy verdicts, and
    not ``ok`` when a policy or a resource limit is violated (reported to ``sink``)."""
    diags: list[Diagnostic] = []

    def report(d: Diagnostic) -> None:
        diags.append(attrs.evolve(d, backend=res.backend))

    verdicts = _verdicts(p, res.selected, report)
    sink.extend(diags)
    return attrs.evolve(res, verdicts=verdicts, ok=res.ok and not any(
        d.severity is Severity.ERROR for d in diags))


def _verdicts(p: M.Program, selected: dict[str, Selected],
              report: Callable[[Diagnostic], None]) -> tuple[Verdict, ...]:
    app = p.app
    assert app is not None
    provided = {c.name for s in selected.values() for c in s.library.provides}
    verdicts = []
    for ref in app.policies:
        findings: list[str] = []
        closure = policy_closure(p, [ref.name])
        # capabilities
        for name in sorted(selected):
            s = selected[name]
            for cap in s.library.exercises:
                v = capability_verdict(p, ref.name, cap.name)
                if v is None or v[0]:
                    continue
                _, rule_span, by = v
                findings.append(f"denies `{cap.name}`, exercised by `{name}`")
                report(error(
                    "U0107", f"policy `{ref.name}` denies capability `{cap.name}`, which "
                    f"`{name}` exercises", ref.span,
                    labels=(Label(rule_span, f"denied by policy `{by}` here"),
                            Label(cap.span, f"`{name}` exercises `{cap.name}` here")),
                    notes=(f"`{name}` is selected by: {chain_str(s.chain)}",),
                    help=f"choose a provider of `{s.construct}` that does not exercise "
                         f"`{cap.name}`, or stop requiring it"))
        for pol in closure:
            for lib in pol.forbid:
                if lib.name in selected:
                    findings.append(f"forbids `{lib.name}`")
                    report(error(
                        "U0106", f"policy `{ref.name}` forbids library `{lib.name}`, which is "
                        "selected", ref.span,
                        labels=(Label(lib.span, f"forbidden by policy `{pol.name}` here"),),
                        notes=(f"`{lib.name}` is selected by: "
                               f"{chain_str(selected[lib.name].chain)}",),
                        help=f"choose another provider: `use OTHER for "
                             f"{selected[lib.name].construct};`"))
            for c in pol.require:
                if c.name not in provided:
                    findings.append(f"requires `{c.name}`")
                    report(error(
                        "U0105", f"policy `{ref.name}` requires `{c.name}`, which the image "
                        "lacks", ref.span,
                        labels=(Label(c.span, f"required by policy `{pol.name}` here"),),
                        help=f"add `{c.name}` to the app's `requires`"))
            for rule in pol.rules:
                if rule.allow and not any(cap.name == rule.capability.name
                                          for s in selected.values()
                                          for cap in s.library.exercises):
                    report(warning(
                        "U0152", f"policy `{pol.name}` allows `{rule.capability.name}`, but no "
                        "selected library exercises it", rule.capability.span,
                        help="remove the rule if it is not needed"))
        for key, code, what, value, fmt, span in (
                ("max_memory", "U0110", "memory", app.memory, fmt_size, app.memory_span),
                ("max_vcpus", "U0111", "vcpus", app.vcpus, str, app.vcpus_span)):
            limit = _tightest(closure, key)
            if limit is not None and value > limit[1].value:
                findings.append(f"{what} above {key}")
                report(error(
                    code, f"app {what} {fmt(value)} is above the limit {fmt(limit[1].value)} "
                    f"of policy `{limit[0]}`", span or app.span,
                    labels=(Label(limit[1].span, "limit set here"),)))
        verdicts.append(Verdict(ref.name, not findings, tuple(findings)))
    _resources(app, selected, report)
    _network_devices(app, selected, report)
    return tuple(verdicts)


def max_image_size(p: M.Program) -> tuple[str, M.Limit] | None:
    assert p.app is not None
    return _tightest(policy_closure(p, [r.name for r in p.app.policies]), "max_image_size")


def _tightest(closure: list[M.Policy], key: str) -> tuple[str, M.Limit] | None:
    best: tuple[str, M.Limit] | None = None
    for pol in closure:
        lim = getattr(pol, key)
        if lim is not None and (best is None or lim.value < best[1].value):
            best = (pol.name, lim)
    return best


def _resources(app: M.App, selected: dict[str, Selected],
               report: Callable[[Diagnostic], None]) -> None:
    need = [(n, s.library.min_memory) for n, s in sorted(selected.items()) if s.library.min_memory]
    total = sum(m for _, m in need)
    if total > app.memory:
        report(error(
            "U0108", f"app memory {fmt_size(app.memory)} is below the {fmt_size(total)} the "
            "selected libraries need", app.memory_span or app.span,
            notes=tuple(f"`{n}` needs {fmt_size(m)}" for n, m in need),
            help=f"set `memory = {fmt_size(_round_mib(total))};` or more"))
    for n, s in sorted(selected.items()):
        lim = s.library.max_vcpus
        if lim is not None and app.vcpus > lim:
            report(error(
                "U0109", f"app asks for {app.vcpus} vcpus, but `{n}` supports at most {lim}",
                app.vcpus_span or app.span,
                labels=(Label(s.library.span, f"`{n}` is declared here"),),
                notes=(f"`{n}` is selected by: {' -> '.join(s.chain)}",)))


#: The construct of a network driver: a library that provides it needs a `kind = net` device.
NET_LINK = "net.link"


def _network_devices(app: M.App, selected: dict[str, Selected],
                     report: Callable[[Diagnostic], None]) -> None:
    """U0114: a network driver in the image with no net device to drive; U0154 (a
    warning, the device is harmless): a net device that nothing in the image drives."""
    drivers = [(n, s) for n, s in sorted(selected.items())
               if any(r.name == NET_LINK for r in s.library.provides)]
    nets = [d for d in app.devices if d.kind == "net"]
    if drivers and not nets:
        name, s = drivers[0]
        report(error(
            "U0114", f"the app needs the network (`{name}` drives a NIC), but declares no "
            "`kind = net` device", app.span,
            notes=(f"`{name}` is selected by: {' -> '.join(s.chain)}",),
            help="add `device net0 { kind = net; }` to the app"))
    elif nets and not drivers:
        report(warning(
            "U0154", f"device `{nets[0].name}` is a network device, but nothing the app "
            f"requires uses the network (no library provides `{NET_LINK}`)", nets[0].span,
            help="require a network construct (`net.udp`, ...), or remove the device"))


def _round_mib(n: int) -> int:
    mib = 1 << 20
    return (n + mib - 1) // mib * mib
