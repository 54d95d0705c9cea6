"""Pass 2 for a library block -> ``model.Library``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable, Mapping

from .. import cnames
from .. import model as M
from ..front import syntax as S
from ..diagnostics import Label, Span
from ..loader import LoadedModule
from .base import MAX_NAME, field_flag, field_names, field_text
from .cnaming import CNames
from .files import Files
from .netspecs import NetSpecs
from .params import C_RANGES, INT_TYPE, Params
from .schema import LIBRARY_KEYS

if TYPE_CHECKING:
    from ..front.bulk import PlainParam


class Libraries(Params, Files, CNames, NetSpecs):
    """Builds ``model.Library`` from a library block."""

    def requirements(self, fields: list[S.Field]) -> tuple[M.Requirement, ...]:
        out: list[M.Requirement] = []
        for f in fields:
            backends: frozenset[str] | None = None
            if f.on is not None:
                bs = [self.backend_ref(b) for b in f.on]
                backends = frozenset(b for b in bs if b)
            for r in self.refs(f, self.construct_ref):
                out.append(M.Requirement(r, backends))
        return tuple(out)

    def library(self, block: S.Block, mod: LoadedModule) -> M.Library:
        if isinstance(block, S.LazyBlock):
            parts = block.plain()
            # a block plain_parts declines (a name twice or unknown) plain_lazy
            # would decline too; either way the full path below reports it
            plain = (self.plain_parts(block, mod, *parts) if parts is not None
                     else self.plain_lazy(block, mod))
            if plain is not None:
                return plain
        members = block.members  # read once: a lazy block builds them each time
        plain = self.plain_library(block, mod, members)
        if plain is not None:
            return plain
        f = self.fields("library", block.name, members, LIBRARY_KEYS)
        v = f.values
        params: list[M.ParamDecl] = []
        seen: dict[str, Span] = {}
        for m in members:
            if type(m) is S.Field:  # most members: checked by `fields`
                continue
            if isinstance(m, (S.Device, S.Use, S.Set)):
                kind = type(m).__name__.lower()
                self.err("U0032", f"`{kind}` is not allowed in a library", m.span,
                         help="devices, provider choices and overrides belong in the app")
            elif isinstance(m, S.Param):
                self.library_param(block.name, m, seen, params)
        backends: list[str] = []
        if "backends" in v:
            for n in field_names(v["backends"]):
                b = self.backend_ref(n)
                if b and b in backends:
                    self.err("U0033", f"`{b}` is listed more than once in `backends`", n.span)
                elif b:
                    backends.append(b)
        doc = field_text(v.get("doc"))
        conflicts = self.refs(v.get("conflicts"), self.library_ref)
        for c in conflicts:
            if c.name == block.name:
                self.err("U0034", f"library `{block.name}` cannot conflict with itself", c.span)
        rank = self.number(v.get("rank"), LIBRARY_KEYS) if "rank" in v else 0
        max_vcpus = self.number(v.get("max_vcpus"), LIBRARY_KEYS)
        min_memory = self.number(v.get("min_memory"), LIBRARY_KEYS) or 0
        listens = self.port_specs(v.get("listens"), True)
        for port in listens:
            if port.param is None:
                continue
            decl = next((p for p in params if p.name == port.param), None)
            if decl is None or decl.type.kind != "int":
                self.err("U0155", f"`listens` entry `{port.text()}` names `{port.param}`, which "
                         f"is not an int parameter of library `{block.name}`", port.span,
                         help=f"declare `param {port.param}: int = PORT in 1 .. 65535;`")
            elif decl.low is None or decl.high is None or decl.low < 1 or decl.high > 65535:
                self.err("U0155", f"`listens` entry `{port.text()}`: parameter "
                         f"`{block.name}.{port.param}` may be outside the ports 1 to 65535",
                         port.span, labels=(Label(decl.span, "declared here"),),
                         help="give the parameter the range `in 1 .. 65535` (or narrower)")
        return M.Library(
            name=block.name, span=block.name_span, module=mod.info.name, doc=doc,
            provides=self.refs(v.get("provides"), self.construct_ref),
            requires=self.requirements(f.requires),
            sources=self.sources(v.get("sources"), mod.info),
            includes=self.includes(v.get("includes"), mod.info),
            backends=tuple(backends),
            exercises=self.refs(v.get("exercises"), self.capability_ref),
            params=tuple(params),
            conflicts=conflicts,
            init=self.c_ident(v.get("init"), "init function"),
            min_memory=min_memory,
            max_vcpus=max_vcpus,
            default=field_flag(v.get("default")),
            rank=rank or 0,
            directory=self.directory(mod),
            listens=listens,
            sends=field_flag(v.get("sends")),
        )

    def library_param(self, library: str, m: S.Param, seen: dict[str, Span],
                      params: list[M.ParamDecl]) -> None:
        """Check the parameter ``m`` of ``library`` and add its declaration to
        ``params``; ``seen``: the names declared before it, and where."""
        if m.name in seen:
            self.err("U0030", f"parameter `{library}.{m.name}` is declared more than "
                     "once", m.name_span, labels=(Label(seen[m.name], "first declared here"),))
            return
        seen[m.name] = m.name_span
        self.check_name("parameter", m.name, m.name_span)
        if not cnames.C_IDENT.match(m.name):
            self.err("U0038", f"parameter name `{m.name}` is not a C identifier",
                     m.name_span, help="parameters become C macros; use letters, "
                     "digits and `_`")
            return
        d = self.param(library, m)
        if d is not None:
            params.append(d)

    def plain_parts(self, block: S.LazyBlock, mod: LoadedModule, doc: str | None,
                    lists: list[tuple[str, list[str], list[Span]]],
                    param: tuple[PlainParam | None, int] | None) -> M.Library | None:
        """The model of a lazy block of the commonest shape from its plain parts
        (``S.LazyBlock.plain``: no syntax node is built), when every name is
        known and listed once; None otherwise, before anything is reported
        (``library`` then checks it in full).  What it builds equals what the
        full path builds (tests/test_bulkparse.py compares them)."""
        refs: dict[str, tuple[M.Ref, ...]] = {}
        for key, names, spans in lists:
            known = self.plain_names(key)
            assert known is not None  # Bulk.plain_library's keys are list fields
            if len(names) > 1 and len(set(names)) != len(names):
                return None  # a duplicate: reported by `library`
            for name in names:
                if name not in known:
                    return None  # an unknown name: reported by `library`
            refs[key] = tuple(map(M.Ref, names, spans))
        params: list[M.ParamDecl] = []
        if param is not None:
            values, at = param
            plain = self.plain_param(values) if values is not None else None
            if plain is not None:
                params.append(plain)
            else:
                self.library_param(block.name, block.param_at(at), {}, params)
        return self.plain_model(block, mod, doc, refs, tuple(params))

    def plain_param(self, values: PlainParam) -> M.ParamDecl | None:
        """The declaration of an `int` param with a default and a range when
        ``library_param`` would accept it as it is (a C identifier of at most
        ``MAX_NAME`` characters, the bounds in order and in C's range, the default
        between them); None otherwise, reporting nothing."""
        name, default, low, high, doc, span = values
        lowest, highest = C_RANGES["int"]
        if len(name) <= MAX_NAME and cnames.C_IDENT.match(name) is not None and \
                lowest <= low <= default <= high <= highest:
            return M.ParamDecl(name, INT_TYPE, default, low, high, doc, span)
        return None

    def plain_library(self, block: S.Block, mod: LoadedModule,
                      members: tuple[S.Member, ...]) -> M.Library | None:
        """The model of a library of the commonest shape -- at most a `doc`
        string and lists of known, distinct names for `provides`, `requires` and
        `exercises`, each key once -- built in one pass over its members; None
        for anything else, which ``library`` checks and reports in full.  On a
        world of many libraries this is most of them; what it builds equals what
        the full path builds (tests/test_bulkparse.py compares them)."""
        fields: list[tuple[str, str | list[tuple[str, Span]]]] = []
        for m in members:
            if type(m) is not S.Field or m.on is not None:
                return None
            value = m.value
            if type(value) is S.Str:
                fields.append((m.key, value.value))
                continue
            if type(value) is not S.List:
                return None
            items: list[tuple[str, Span]] = []
            for item in value.items:
                if type(item) is not S.Name:
                    return None
                items.append((item.value, item.span))
            fields.append((m.key, items))
        return self.plain_values(block, mod, fields)

    def plain_values(self, block: S.Block, mod: LoadedModule,
                     fields: Iterable[tuple[str, str | list[tuple[str, Span]]]]
                     ) -> M.Library | None:
        """``plain_library``'s model from the fields' plain values: (key, a
        string) or (key, [(name, its span), ...]); None for any other key, a
        key twice, a value of the wrong kind, or a duplicate or unknown name."""
        doc: str | None = None
        lists: dict[str, tuple[M.Ref, ...]] = {}
        for key, value in fields:
            if key == "doc":
                if doc is not None or not isinstance(value, str):
                    return None
                doc = value
                continue
            known = self.plain_names(key)
            if known is None or key in lists or isinstance(value, str):
                return None
            refs: list[M.Ref] = []
            names: set[str] = set()
            for name, span in value:
                if name in names or name not in known:
                    return None  # a duplicate or an unknown name: reported by `library`
                names.add(name)
                refs.append(M.Ref(name, span))
            lists[key] = tuple(refs)
        return self.plain_model(block, mod, doc, lists)

    def plain_names(self, key: str) -> Mapping[str, object] | None:
        """What the names of the list field ``key`` of a plain library must be:
        capabilities for `exercises`, constructs for `provides` and `requires`;
        None for any other key."""
        if key == "exercises":
            return self.capabilities
        if key == "provides" or key == "requires":
            return self.constructs
        return None

    def plain_model(self, block: S.Block, mod: LoadedModule, doc: str | None,
                    lists: dict[str, tuple[M.Ref, ...]],
                    params: tuple[M.ParamDecl, ...] = ()) -> M.Library:
        """The library of a plain block: a doc string, the checked
        ``provides``/``requires``/``exercises`` lists and ``params``, every other
        field at its default."""
        # positional, in the order of ``M.Library``'s fields (a third faster than
        # keywords; tests/test_bulkparse.py compares the result with the full path's)
        return M.Library(
            block.name, block.name_span, mod.info.name, doc, lists.get("provides", ()),
            tuple(map(M.Requirement, lists.get("requires", ()))),
            (), (), lists.get("exercises", ()), params, (),  # sources backends exercises params conflicts
            None, 0, None, False, 0, self.directory(mod))  # init min_memory max_vcpus default rank directory

    def plain_lazy(self, block: S.LazyBlock, mod: LoadedModule) -> M.Library | None:
        """``plain_library`` for a lazy block, from its fields' plain values (no
        syntax nodes are built); None where ``plain_library`` would decline or
        the block has other members."""
        fields = block.plain_fields()
        if fields is None:
            return None
        return self.plain_values(block, mod, fields)
