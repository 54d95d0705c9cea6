"""Resolution: which libraries go into the image for one backend, in which order.

From the app, walk app -> required construct -> chosen provider -> its
required constructs -> ...  A construct's provider is the app's explicit
choice (`use L for C;`), else the only candidate on this backend, else the
candidate marked `default = true`, else the one with the strictly highest
`rank`; anything else is an error listing the candidates.  Libraries not
reached are pruned.  Init order is a topological order (dependencies
first) with ties broken by name, so it never depends on hashing or file
order.  Policies and resources are checked afterwards, by ``unilang.policy``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Callable, Iterable, Iterator, overload

import attrs

from . import model as M
from .cnames import param_macro
from .diagnostics import Diagnostic, Label, Severity, Sink, Span, error, warning
from .netrules import NetRules

if TYPE_CHECKING:
    from .loader import ModuleInfo

APP = "app"


def _chain_key(parent: "Selected | None") -> tuple[str, ...] | None:
    return None if parent is None else parent.chain


@attrs.frozen
class Selected:
    """A selected library and how it was first reached.

    The chain that reached it is kept as a link to the library that required
    it (``parent``; None for the app), not as a tuple per library: a tuple
    each would cost quadratic time and memory in the depth of the graph.
    ``chain`` expands it, only when a diagnostic or a report shows it."""

    library: M.Library
    #: The construct it was selected for first, and where that was required.
    construct: str
    required_at: Span
    #: ``app NAME``: where every chain starts.
    origin: str
    #: The library that first required it; None when the app did.  Compared
    #: by the chain it stands for (iteratively: no recursion on deep chains).
    parent: "Selected | None" = attrs.field(default=None, eq=_chain_key, repr=False)

    @property
    def chain(self) -> tuple[str, ...]:
        """The shortest chain that reached it: ("app hello", "console", "uart16550")."""
        hops: list[Selected] = []
        s: Selected | None = self
        while s is not None:
            hops.append(s)
            s = s.parent
        out = [self.origin]
        for h in reversed(hops):
            out += (h.construct, h.library.name)
        return tuple(out)


@attrs.frozen
class ParamValue:
    library: str
    name: str
    type: M.ParamType
    value: M.PValue
    origin: str  # "default" or "override"
    span: Span  # the declaration (default) or the `set` line (override)

    @property
    def macro(self) -> str:
        return param_macro(self.library, self.name)


@attrs.frozen
class Pruned:
    name: str
    reason: str


@attrs.frozen
class Edge:
    src: str  # APP or a library name
    dst: str  # a library name
    construct: str
    span: Span  # where src requires the construct


class Edges(Sequence[Edge]):
    """A resolution's requirement edges, in the order the walk followed them:
    the app's requirements, then each selected library's in the order the
    libraries were selected, one edge per requirement that named a provider.

    They are made when first read (``unilang graph``, ``why``, builds), from
    what the walk keeps anyway: the requirers in walk order and the provider
    picked for each construct.  A check reads none, and a list of edge
    objects (a few per library) was a large part of a big check's memory."""

    __slots__ = ("_backend", "_app", "_walk", "_providers", "_made")

    def __init__(self, backend: str, app: Sequence[M.Requirement],
                 walk: Sequence[Selected], providers: dict[str, str]) -> None:
        self._backend = backend
        self._app = app  # the app's requirements (with the implicit `boot`)
        self._walk = walk  # the selected libraries, in the order they were selected
        self._providers = providers  # construct -> provider picked (none: no provider)
        self._made: tuple[Edge, ...] | None = None

    def _edges(self) -> tuple[Edge, ...]:
        made = self._made
        if made is None:
            made = self._made = tuple(self._follow())
        return made

    def _follow(self) -> Iterator[Edge]:
        """The walk's steps again: the same requirements, skipped for the same reasons."""
        backend = self._backend
        providers = self._providers
        sources: Iterator[tuple[str, tuple[M.Ref, ...], Iterable[M.Requirement]]] = (
            (s.library.name, s.library.provides, s.library.requires) for s in self._walk)
        for src, own, reqs in ((APP, (), self._app), *sources):
            for req in reqs:
                if req.backends is not None and backend not in req.backends:
                    continue
                ref = req.construct
                c = ref.name
                if any(p.name == c for p in own):
                    continue
                dst = providers.get(c)
                if dst is not None:
                    yield Edge(src, dst, c, ref.span)

    def __iter__(self) -> Iterator[Edge]:
        return iter(self._edges())

    def __len__(self) -> int:
        return len(self._edges())

    @overload
    def __getitem__(self, i: int) -> Edge: ...

    @overload
    def __getitem__(self, i: slice) -> tuple[Edge, ...]: ...

    def __getitem__(self, i: int | slice) -> Edge | tuple[Edge, ...]:
        return self._edges()[i]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Edges):
            return self._edges() == other._edges()
        if isinstance(other, tuple):
            return self._edges() == other
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._edges())

    def __repr__(self) -> str:
        return repr(self._edges())


@attrs.frozen
class Verdict:
    policy: str
    ok: bool
    findings: tuple[str, ...]


@attrs.frozen
class Resolution:
    backend: str
    app: M.App
    order: tuple[str, ...]
    #: By name (``run`` makes it so; the policy stage reads it in this order).
    selected: dict[str, Selected]
    providers: dict[str, str]
    #: Every requirement edge, made when first read (``Edges``).
    edges: Sequence[Edge]
    params: tuple[ParamValue, ...]
    pruned: tuple[Pruned, ...]
    ok: bool
    #: Filled by the policy stage (``unilang.policy.check_policies``).
    verdicts: tuple[Verdict, ...] = ()
    #: Pruned libraries that provide a construct another library was chosen for.
    lost: dict[str, tuple[str, str]] = attrs.field(factory=dict)
    #: The network rules of the applied policies, for the run-time tables
    #: (filled by the policy stage; ``NetRules()`` restricts nothing).
    net: NetRules = NetRules()


def chain_str(chain: Iterable[str]) -> str:
    return " -> ".join(chain)


class Resolver:
    def __init__(self, program: M.Program, sink: Sink) -> None:
        assert program.app is not None
        self.p = program
        self.app = program.app
        self.backend = program.backend
        self.sink = sink
        self.diags: list[Diagnostic] = []
        # construct -> its providers, by name (the libraries are sorted by name):
        # the one library itself when there is one, as for most constructs, else
        # a list (``providers``); a list per construct was ~7 MiB at 100,000
        providers_of: dict[str, M.Library | list[M.Library]] = {}
        put = providers_of.setdefault
        for lib in program.libraries.values():
            for c in lib.provides:
                first = put(c.name, lib)
                if first is not lib:
                    if type(first) is list:
                        first.append(lib)
                    else:
                        providers_of[c.name] = [first, lib]  # type: ignore[list-item]
        self.providers_of = providers_of
        self.choices = {c.construct.name: c for c in self.app.choices}
        self.lost: dict[str, tuple[str, str]] = {}  # library -> (construct, winner)
        # for the init order, filled by the walk, by each library's place in it:
        # the places of the libraries that require it (once per requirement), and
        # how many requirements of its own name a provider
        self.users: list[list[int]] = []
        self.needs: list[int] = []
        self.names: list[str] = []  # of the selected libraries, by place
        self.reached: dict[str, int] = {}  # construct -> its provider's place, or -1
        self.unprovided: set[str] = set()  # constructs required that have no provider

    def report(self, d: Diagnostic) -> None:
        self.diags.append(attrs.evolve(d, backend=self.backend))

    def providers(self, construct: str) -> list[M.Library]:
        """Every library that provides ``construct`` (any backend), by name."""
        found = self.providers_of.get(construct)
        if found is None:
            return []
        return found if type(found) is list else [found]  # type: ignore[list-item]

    # ------------------------------------------------------------ providers
    def pick(self, construct: str, by: Selected | None, span: Span) -> str | None:
        """The provider of ``construct`` on this backend, or None after reporting why.

        ``by`` is the selected library that requires it (None: the app).  The walk
        asks once per construct, and only when the construct has no single
        candidate it could take without asking (``place``)."""
        result = self._pick(construct, by, span)
        if result is not None:
            for lib in self.providers(construct):
                if lib.name != result and lib.name not in self.lost:
                    self.lost[lib.name] = (construct, result)
        return result

    def chain_of(self, by: Selected | None) -> tuple[str, ...]:
        return by.chain if by is not None else (f"app {self.app.name}",)

    def _pick(self, construct: str, by: Selected | None, span: Span) -> str | None:
        all_providers = self.providers(construct)

        def note() -> str:  # built only for a diagnostic: O(depth) each
            return f"required by: {chain_str(self.chain_of(by) + (construct,))}"

        choice = self.choices.get(construct)
        if choice is not None:
            lib = self.p.libraries[choice.library.name]
            if not lib.supports(self.backend):
                self.report(error(
                    "U0104", f"library `{lib.name}` does not support backend `{self.backend}`",
                    choice.library.span,
                    labels=(Label(lib.span, f"supports: {', '.join(lib.backends)}"),),
                    notes=(note(),),
                    help=self._alternatives(construct, lib.name)))
                return None
            return lib.name
        candidates = [l for l in all_providers if l.supports(self.backend)]
        if not candidates:
            others = [l for l in all_providers if not l.supports(self.backend)]
            notes = [note()]
            for o in others:
                notes.append(f"`{o.name}` provides `{construct}` but supports only "
                             f"{', '.join(o.backends)}")
            self.report(error(
                "U0100", f"no library provides `{construct}` for backend `{self.backend}`", span,
                notes=tuple(notes),
                help=("add a library that provides it for this backend, or remove the "
                      "requirement")))
            return None
        if len(candidates) == 1:
            return candidates[0].name
        defaults = [l for l in candidates if l.default]
        if len(defaults) == 1:
            return defaults[0].name
        pool = defaults or candidates
        top = max(l.rank for l in pool)
        best = [l for l in pool if l.rank == top]
        if len(best) == 1 and not (len(defaults) > 1 and top == 0):
            return best[0].name
        names = [l.name for l in best]
        why = ("several are marked `default = true`" if len(defaults) > 1
               else "none is marked `default = true` and none has a higher `rank`")
        self.report(error(
            "U0101", f"`{construct}` has {len(names)} possible providers for backend "
            f"`{self.backend}`: {', '.join(names)}", span,
            labels=tuple(Label(l.span, "candidate") for l in best),
            notes=(note(), why),
            help=f"choose one in the app: `use {names[0]} for {construct};`"))
        return None

    def _alternatives(self, construct: str, not_this: str) -> str | None:
        alts = [l.name for l in self.providers(construct)
                if l.name != not_this and l.supports(self.backend)]
        if alts:
            return f"choose a provider for this backend: `use {alts[0]} for {construct};`"
        return None

    # ------------------------------------------------------------ walk
    def app_requirements(self) -> list[M.Requirement]:
        reqs = list(self.app.requires)
        if "boot" in self.p.constructs and not any(r.construct.name == "boot" for r in reqs):
            # Every app implicitly requires `boot`: without it there is no machine.
            reqs.insert(0, M.Requirement(M.Ref("boot", self.app.span)))
        return reqs

    def walk(self, app_reqs: list[M.Requirement]) -> list[Selected]:
        """The selected libraries, breadth first from the app, in the order they were
        selected: each with the first requirement that reached it.  Every
        requirement is followed once, in order (the app's, then each selected
        library's as it was selected), and it is what ``Edges`` follows again.

        The walk keeps only what the rest needs, by each library's place in
        the walk: ``reached`` (each construct required -> its provider's place,
        -1 when it has none), ``users`` (the places of the libraries that
        require each library, once per requirement), ``needs`` (how many of a
        library's own requirements name a provider) and ``names``; not an
        object per edge, nor a dict per library."""
        walked: list[Selected] = []  # also the queue
        users = self.users
        needs = self.needs
        names = self.names
        reached = self.reached
        origin = f"app {self.app.name}"
        backend = self.backend
        libraries = self.p.libraries
        providers_of = self.providers_of
        choices = self.choices
        #: the places of the libraries that other constructs than their one own may
        #: reach: those that provide several (few), or that a `use` chose
        placed: dict[str, int] = {}

        def place(c: str, by: Selected | None, span: Span) -> int:
            """The first requirement of ``c``: its provider's place (-1: it has none),
            the provider selected if it is new."""
            only = providers_of.get(c)
            if (only is not None and type(only) is not list and c not in choices and
                    (not only.backends or backend in only.backends)):  # type: ignore[union-attr]
                lib: M.Library = only  # type: ignore[assignment]  # the one candidate: no choice, nothing lost
            else:
                dst = self.pick(c, by, span)
                if dst is None:
                    reached[c] = -1
                    self.unprovided.add(c)
                    return -1
                lib = libraries[dst]
            name = lib.name
            own = lib.provides
            if len(own) == 1 and own[0].name == c:
                # its one construct: the only way to it (a `use` names a provider of
                # the construct), unless a `use` naming it for another one came first
                j = placed.get(name, -1) if placed else -1
            else:
                j = placed.get(name, -1)
                if j < 0 and len(own) == 1:  # reached through its one construct before?
                    k = reached.get(own[0].name, -1)
                    if k >= 0 and walked[k].library is lib:
                        j = k
                if j < 0:
                    placed[name] = len(walked)
            if j < 0:
                j = len(walked)
                walked.append(Selected(lib, c, span, origin, by))
                names.append(name)
                users.append([])
                needs.append(0)
            reached[c] = j
            return j

        for req in app_reqs:
            if req.backends is not None and backend not in req.backends:
                continue  # not required on this backend (Requirement.applies)
            c = req.construct.name
            if c not in reached:
                place(c, None, req.construct.span)
        # the loop runs once per requirement of every selected library: the
        # common steps (a construct seen before, a requirement for every
        # backend, a library that provides one construct) are written out
        # rather than called, and a construct seen before is one look-up
        i = 0
        while i < len(walked):
            by = walked[i]
            lib = by.library
            own = lib.provides
            one = own[0].name if len(own) == 1 else None
            several = None if one is not None or not own else {p.name for p in own}
            n = 0
            for req in lib.requires:
                if req.backends is not None and backend not in req.backends:
                    continue
                ref = req.construct
                c = ref.name
                if c == one or (several is not None and c in several):
                    continue  # a library satisfies its own requirement
                j = reached.get(c)
                if j is None:  # its first requirement
                    only = providers_of.get(c)
                    if (only is not None and type(only) is not list and c not in choices and
                            (not only.backends or backend in only.backends) and  # type: ignore[union-attr]
                            len(only.provides) == 1 and only.name not in placed):  # type: ignore[union-attr]
                        # ``place``'s common case written out: the one candidate,
                        # reached by its one construct, new
                        j = reached[c] = len(walked)
                        walked.append(Selected(only, c, ref.span, origin, by))  # type: ignore[arg-type]
                        names.append(only.name)  # type: ignore[union-attr]
                        users.append([])
                        needs.append(0)
                    else:
                        j = place(c, by, ref.span)
                if j < 0:
                    continue
                users[j].append(i)
                n += 1
            if n:
                needs[i] = n
            i += 1
        return walked

    # ------------------------------------------------------------ order and cycles
    def order(self, by_name: list[int]) -> tuple[str, ...] | None:
        """The init order of the selected libraries: each after every library it
        requires, ties broken by name (Kahn's algorithm, the smallest name first);
        None when there is a cycle (``cycles`` reports it).  ``by_name``: the
        places of the libraries sorted by name; the heap holds their ranks in it.
        It uses up ``needs``."""
        import heapq

        users = self.users
        left = self.needs  # requirements not yet ordered before each library
        rank = [0] * len(by_name)
        for r, j in enumerate(by_name):
            rank[j] = r
        ready = [r for r, j in enumerate(by_name) if not left[j]]  # sorted: already a heap
        pop, push = heapq.heappop, heapq.heappush
        out: list[str] = []
        names = self.names
        while ready:
            j = by_name[pop(ready)]
            out.append(names[j])
            for k in users[j]:
                n = left[k] - 1
                left[k] = n
                if not n:
                    push(ready, rank[k])
        if len(out) == len(by_name):
            return tuple(out)
        return None

    def cycles(self, names: list[str], edges: Edges) -> None:
        """U0102 for each cycle among the selected libraries ``names`` (sorted)."""
        from .graphs import cycles

        first_edge: dict[tuple[str, str], Edge] = {}
        for e in edges:
            if e.src != APP:
                first_edge.setdefault((e.src, e.dst), e)
        # each cycle follows "requires" edges from its smallest name
        for cycle in cycles(names, first_edge):
            links = [first_edge[(a, b)] for a, b in cycle]
            chain_names = []
            for link in links:
                chain_names += [link.src, link.construct]
            chain_names.append(links[0].src)
            labels = [Label(l.span, f"`{l.src}` requires `{l.construct}`, provided by "
                      f"`{l.dst}`") for l in links]
            notes = tuple(f"`{l.src}` is defined at {self.p.libraries[l.src].span.location}"
                          for l in links)
            self.report(error(
                "U0102", "dependency cycle: " + " -> ".join(chain_names), labels[0].span,
                labels=tuple(labels[1:]), notes=notes,
                help="break the cycle: one of these libraries must not require the next"))

    # ------------------------------------------------------------ conflicts, backends
    def conflicts(self, selected: dict[str, Selected]) -> None:
        """``selected``: by name."""
        seen: set[tuple[str, str]] = set()
        for name, s in selected.items():
            lib = s.library
            if not lib.conflicts:
                continue
            for c in lib.conflicts:
                if c.name not in selected:
                    continue
                pair = tuple(sorted((name, c.name)))
                if pair in seen:
                    continue
                seen.add(pair)  # type: ignore[arg-type]
                other = selected[c.name]
                self.report(error(
                    "U0103", f"libraries `{name}` and `{c.name}` conflict but both are selected",
                    c.span,
                    notes=(f"`{name}` is selected by: {chain_str(s.chain)}",
                           f"`{c.name}` is selected by: {chain_str(other.chain)}"),
                    help="choose other providers with `use LIBRARY for CONSTRUCT;`"))

    # ------------------------------------------------------------ parameters
    def params(self, selected: dict[str, Selected]) -> tuple[ParamValue, ...]:
        """``selected``: by name."""
        overrides = {(o.library.name, o.param.name): o for o in self.app.overrides}
        out: list[ParamValue] = []
        for name, s in selected.items():
            lib = s.library
            if not lib.params:
                continue
            for p in lib.params:
                o = overrides.get((name, p.name)) if overrides else None
                if o is not None:
                    if o.value == p.default and type(o.value) is type(p.default):
                        self.report(warning(
                            "U0151", f"`{name}.{p.name}` is set to its default value {o.text}",
                            o.span, labels=(Label(p.span, "declared here"),),
                            help="remove the line, or keep it to pin the value"))
                    out.append(ParamValue(name, p.name, p.type, o.value,
                                          "override", o.span))
                else:
                    assert p.default is not None
                    out.append(ParamValue(name, p.name, p.type, p.default,
                                          "default", p.span))
        for o in self.app.overrides:
            if o.library.name not in selected:
                if not self.p.libraries[o.library.name].supports(self.backend):
                    # a library of other backends, as the shipped backend libraries are:
                    # the value applies where the library exists
                    continue
                reason = self.prune_reason(o.library.name)
                help_ = "remove the override, or require a construct that selects the library"
                if o.library.name in self.lost:  # it lost a provider choice: say how to win it
                    c, _winner = self.lost[o.library.name]
                    help_ = f"to use it, choose it: `use {o.library.name} for {c};`"
                self.report(error(
                    "U0112", f"`{o.library.name}.{o.param.name}` is set, but `{o.library.name}` "
                    f"is not in the image for backend `{self.backend}`", o.library.span,
                    notes=(f"`{o.library.name}` is {reason}",), help=help_))
        return tuple(out)

    def prune_reason(self, name: str) -> str:
        lib = self.p.libraries[name]
        if not lib.supports(self.backend):
            return f"unsupported on backend `{self.backend}` (supports {', '.join(lib.backends)})"
        if name in self.lost:
            c, winner = self.lost[name]
            return f"not chosen: `{winner}` provides `{c}` instead"
        return "not reached from the app"

    def pruned(self, selected: dict[str, Selected]) -> tuple[Pruned, ...]:
        return tuple(Pruned(n, self.prune_reason(n))
                     for n in sorted([n for n in self.p.libraries if n not in selected]))

    def run(self) -> Resolution:
        app_reqs = self.app_requirements()
        walked = self.walk(app_reqs)
        # by name from here on: every step below visits the libraries in that order
        names = self.names
        by_name = sorted(range(len(names)), key=names.__getitem__)
        order = self.order(by_name)
        self.users = []  # the order is made: let the lists go before more is built
        self.needs = []
        selected = {names[j]: walked[j] for j in by_name}
        del by_name
        reached = self.reached
        providers = {c: names[j] for c in sorted(reached) if (j := reached[c]) >= 0}
        self.reached = {}
        del reached  # the walk's table goes now, not when run returns
        self.names = names = list(selected)
        edges = Edges(self.backend, app_reqs, walked, providers)
        if order is None:
            self.cycles(names, edges)
        self.conflicts(selected)
        params = self.params(selected)
        self.unused_imports(selected, providers)
        for choice in self.app.choices:
            c = choice.construct.name
            if c not in providers and c not in self.unprovided:
                self.report(warning(
                    "U0153", f"`use {choice.library.name} for {choice.construct.name};` has no "
                    f"effect: nothing requires `{choice.construct.name}` on backend "
                    f"`{self.backend}`", choice.span,
                    help=f"remove it, or add `{choice.construct.name}` to the app's `requires`"))
        ok = not any(d.severity is Severity.ERROR for d in self.diags)
        self.sink.extend(self.diags)
        lost = self.lost
        return Resolution(
            backend=self.backend, app=self.app, order=order or tuple(names),
            selected=selected, providers=providers,
            edges=edges, params=params, pruned=self.pruned(selected),
            ok=ok and order is not None,
            lost={k: lost[k] for k in sorted(lost) if k not in selected})

    # ------------------------------------------------------------ warnings
    def unused_imports(self, selected: dict[str, Selected], providers: dict[str, str]) -> None:
        """U0150: a project module imported by another whose definitions are all unused."""
        mods = {m.name: m for m in self.p.modules}
        checks: list[tuple[ModuleInfo, Span]] = []
        for m in self.p.modules:
            if m.root != "project":
                continue
            for target, span in m.imports:
                imported = mods.get(target)
                if imported is None or imported.root != "project" or imported.name == m.name:
                    continue
                checks.append((imported, span))
        if not checks:
            return  # most specs: nothing to work out what is used for
        used = self._used(selected, providers)
        unused: dict[str, bool] = {}  # per imported module: none of its definitions used
        for imported, span in checks:
            idle = unused.get(imported.name)
            if idle is None:
                idle = unused[imported.name] = not any(used(d) for d in imported.defines)
            if idle:
                self.report(warning(
                    "U0150", f"module `{imported.name}` is imported but none of its "
                    "definitions is used", span, help="remove the import"))

    def _used(self, selected: dict[str, Selected],
              providers: dict[str, str]) -> Callable[[str], bool]:
        """Whether a definition (``kind:name``, as ``ModuleInfo.defines`` names it) is
        used: a selected library, a construct picked or required by the app or an
        applied policy, a capability a selected library exercises or an applied
        policy rules on, an applied policy."""
        constructs = set(providers)
        constructs |= self.unprovided
        constructs.update(r.construct.name for r in self.app.requires)
        capabilities = {c.name for s in selected.values() for c in s.library.exercises}
        policies: set[str] = set()
        for pol in M.policy_closure(self.p, [r.name for r in self.app.policies]):
            policies.add(pol.name)
            capabilities.update(r.capability.name for r in pol.rules)
            constructs.update(r.name for r in pol.require)
        by_kind = {"library": selected, "construct": constructs, "capability": capabilities,
                   "policy": policies}

        def used(definition: str) -> bool:
            kind, _, name = definition.partition(":")
            names = by_kind.get(kind)
            return names is not None and name in names

        return used


def resolve(program: M.Program, sink: Sink) -> Resolution:
    return Resolver(program, sink).run()
