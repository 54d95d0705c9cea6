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
from .netrules import Cidr, NetRules, PortRange, intersect_cidrs, intersect_ports, normal_cidrs, \
    normal_ports
from .resolve import ParamValue, Resolution, Selected, Verdict, chain_str
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

    verdicts = _verdicts(p, res.selected, report, res.params)
    net = network_rules(p)
    sink.extend(diags)
    return attrs.evolve(res, verdicts=verdicts, net=net, ok=res.ok and not any(
        d.severity is Severity.ERROR for d in diags))


class _Image:
    """What the policy checks read of the selected libraries, gathered in one pass
    over them by name: the few that exercise capabilities, listen, send, need
    memory or limit vcpus, and the providers of the constructs the checks ask
    about (``wanted``), rather than a pass over every library per check."""

    __slots__ = ("exercisers", "exercised", "listeners", "senders", "need", "vcpu_limited",
                 "found")

    def __init__(self, selected: dict[str, Selected], wanted: set[str]) -> None:
        self.exercisers: list[tuple[str, Selected]] = []
        self.listeners: list[str] = []
        self.senders: list[str] = []
        self.need: list[tuple[str, int]] = []
        self.vcpu_limited: list[tuple[str, Selected]] = []
        #: construct in ``wanted`` -> its selected providers, by name
        self.found: dict[str, list[tuple[str, Selected]]] = {}
        for name, s in selected.items():  # by name (``Resolution.selected``)
            lib = s.library
            if lib.exercises:
                self.exercisers.append((name, s))
            if lib.listens:
                self.listeners.append(name)
            if lib.sends:
                self.senders.append(name)
            if lib.min_memory:
                self.need.append((name, lib.min_memory))
            if lib.max_vcpus is not None:
                self.vcpu_limited.append((name, s))
            for c in lib.provides:
                if c.name in wanted:
                    self.found.setdefault(c.name, []).append((name, s))
        self.exercised = {cap.name for _n, s in self.exercisers for cap in s.library.exercises}

    def provides(self, construct: str) -> bool:
        """Whether a selected library provides ``construct`` (one of ``wanted``)."""
        return construct in self.found


def _verdicts(p: M.Program, selected: dict[str, Selected],
              report: Callable[[Diagnostic], None],
              params: tuple[ParamValue, ...] = ()) -> tuple[Verdict, ...]:
    app = p.app
    assert app is not None
    wanted = {NET_IP, NET_LINK}
    for pol in policy_closure(p, [r.name for r in app.policies]):
        wanted.update(c.name for c in pol.require)
    image = _Image(selected, wanted)
    declared: list[tuple[str, PortRange]] | None = None  # made when a policy limits ports
    verdicts = []
    for ref in app.policies:
        findings: list[str] = []
        closure = policy_closure(p, [ref.name])
        # capabilities
        verdict_of: dict[str, tuple[bool, Span, str] | None] = {}
        for name, s in image.exercisers:
            for cap in s.library.exercises:
                if cap.name in verdict_of:
                    v = verdict_of[cap.name]
                else:
                    v = verdict_of[cap.name] = capability_verdict(p, ref.name, cap.name)
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
                if not image.provides(c.name):
                    findings.append(f"requires `{c.name}`")
                    report(error(
                        "U0105", f"policy `{ref.name}` requires `{c.name}`, which the image "
                        "lacks", ref.span,
                        labels=(Label(c.span, f"required by policy `{pol.name}` here"),),
                        help=f"add `{c.name}` to the app's `requires`"))
            for rule in pol.rules:
                if rule.allow and rule.capability.name not in image.exercised:
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
        if declared is None and any(pol.listen is not None for pol in closure):
            declared = declared_listens(app, selected, params, image.listeners)
        findings += _network_findings(ref, closure, declared or [], selected, image.senders,
                                      report)
        verdicts.append(Verdict(ref.name, not findings, tuple(findings)))
    _network_without_stack(p, app, image, report)
    _resources(app, image, report)
    _network_devices(app, image, report)
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


def _resources(app: M.App, image: _Image, report: Callable[[Diagnostic], None]) -> None:
    need = image.need
    total = sum(m for _, m in need)
    if total > app.memory:
        report(error(
            "U0108", f"app memory {fmt_size(app.memory)} is below the {fmt_size(total)} the "
            "selected libraries need", app.memory_span or app.span,
            notes=tuple(f"`{n}` needs {fmt_size(m)}" for n, m in need),
            help=f"set `memory = {fmt_size(_round_mib(total))};` or more"))
    for n, s in image.vcpu_limited:
        lim = s.library.max_vcpus
        if lim is not None and app.vcpus > lim:
            report(error(
                "U0109", f"app asks for {app.vcpus} vcpus, but `{n}` supports at most {lim}",
                app.vcpus_span or app.span,
                labels=(Label(s.library.span, f"`{n}` is declared here"),),
                notes=(f"`{n}` is selected by: {' -> '.join(s.chain)}",)))


#: The construct of a network driver: a library that provides it needs a `kind = net` device.
NET_LINK = "net.link"


def _network_devices(app: M.App, image: _Image,
                     report: Callable[[Diagnostic], None]) -> None:
    """U0114: a network driver in the image with no net device to drive; U0154 (a
    warning, the device is harmless): a net device that nothing in the image drives."""
    drivers = image.found.get(NET_LINK, [])
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


#: The construct of the IPv4 layer, which enforces the run-time network rules.
NET_IP = "net.ip"


def network_rules(p: M.Program) -> NetRules:
    """The run-time network rules of all the app's applied policies together (and
    what they include): the ports and peers every policy that restricts them
    allows (the intersection), and no sending if any policy says `send = false`."""
    assert p.app is not None
    listen: list[PortRange] | None = None
    peers: list[Cidr] | None = None
    send = True
    for pol in policy_closure(p, [r.name for r in p.app.policies]):
        if pol.listen is not None:
            mine = normal_ports(pol.listen)
            listen = mine if listen is None else intersect_ports(listen, mine)
        if pol.peers is not None:
            cs = normal_cidrs(pol.peers)
            peers = cs if peers is None else intersect_cidrs(peers, cs)
        if pol.send is False:
            send = False
    return NetRules(None if listen is None else tuple(listen),
                    None if peers is None else tuple(peers), send)


def declared_listens(app: M.App, selected: dict[str, Selected],
                     params: tuple[ParamValue, ...],
                     listeners: list[str]) -> list[tuple[str, PortRange]]:
    """(who, port) for every port the app and its selected libraries listen on; a
    library's `proto:PARAM` becomes the parameter's resolved value.  ``listeners``:
    the selected libraries that listen, by name (``_Image.listeners``)."""
    values: dict[tuple[str, str], M.PValue] | None = None  # made for a `proto:PARAM`
    out = [(f"app `{app.name}`", port) for port in app.listens]
    for name in listeners:
        for port in selected[name].library.listens:
            if port.param is not None:
                if values is None:
                    values = {(v.library, v.name): v.value for v in params}
                value = values.get((name, port.param))
                if not isinstance(value, int) or isinstance(value, bool):
                    continue  # reported by the checker
                port = attrs.evolve(port, low=value, high=value, param=None)
            out.append((f"library `{name}`", port))
    return out


def _network_findings(ref: M.Ref, closure: list[M.Policy],
                      declared: list[tuple[str, PortRange]], selected: dict[str, Selected],
                      senders: list[str], report: Callable[[Diagnostic], None]) -> list[str]:
    """U0157: a declared port (``declared_listens``) some policy of ``ref``'s closure
    does not allow; U0158: `send = false` and a selected library that cannot work
    without sending (``senders``: those libraries, by name)."""
    findings: list[str] = []
    for pol in closure:
        if pol.listen is not None:
            allowed = ", ".join(r.text() for r in normal_ports(pol.listen)) or "no port"
            for who, port in declared:
                if any(r.covers(port) for r in pol.listen):
                    continue
                findings.append(f"does not allow listening on {port.text()}")
                report(error(
                    "U0157", f"{who} listens on {port.text()}, which policy `{ref.name}` does "
                    "not allow", port.span,
                    labels=(Label(ref.span, "policy applied here"),
                            Label(pol.listen_span or pol.span,
                                  f"policy `{pol.name}` allows only {allowed}")),
                    help=f"add \"{port.text()}\" to the `listen` of policy `{pol.name}`, or "
                         "stop listening on it"))
        if pol.send is False:
            for name in senders:
                findings.append(f"forbids sending, which `{name}` must do")
                report(error(
                    "U0158", f"policy `{ref.name}` forbids sending, but `{name}` cannot work "
                    "without sending", ref.span,
                    labels=(Label(pol.send_span or pol.span,
                                  f"`send = false` in policy `{pol.name}`"),
                            Label(selected[name].library.span, f"`{name}` is declared here")),
                    notes=(f"`{name}` is selected by: {chain_str(selected[name].chain)}",),
                    help=f"choose another provider of `{selected[name].construct}`, or allow "
                         "sending"))
    return findings


def _network_without_stack(p: M.Program, app: M.App, image: _Image,
                           report: Callable[[Diagnostic], None]) -> None:
    """U0159: network rules or declared ports in an image with no IPv4 layer, which
    is what enforces them: they would have no effect."""
    if image.provides(NET_IP):
        return
    for pol in policy_closure(p, [r.name for r in app.policies]):
        for key, span in (("listen", pol.listen_span), ("peers", pol.peers_span),
                          ("send", pol.send_span)):
            if span is not None:
                report(warning(
                    "U0159", f"policy `{pol.name}` sets `{key}`, but the image has no network "
                    f"stack (nothing provides `{NET_IP}`), so the rule has no effect", span,
                    help="remove the rule, or apply the policy to an app that uses the network"))
    if app.listens:
        report(warning(
            "U0159", f"app `{app.name}` declares `listens`, but the image has no network stack "
            f"(nothing provides `{NET_IP}`)", app.listens[0].span,
            help="remove `listens`, or require a network construct (`net.udp`, ...)"))


def _round_mib(n: int) -> int:
    mib = 1 << 20
    return (n + mib - 1) // mib * mib
