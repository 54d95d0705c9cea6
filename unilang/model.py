"""The typed, checked model of a program: what the checker produces.

Every reference keeps the span where it was written, so later stages
(resolution, policy, emission) can point diagnostics at the spec.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Union

import attrs

from .cnames import c_name
from .diagnostics import Span
from .netrules import Cidr, PortRange

if TYPE_CHECKING:
    from .loader import ModuleInfo

#: A parameter value: int (also sizes, in bytes), bool or str (strings and enum members).
PValue = Union[int, bool, str]


@attrs.frozen
class Ref:
    """A name as written at a use site."""

    name: str
    span: Span


@attrs.frozen
class Construct:
    name: str
    doc: str | None
    span: Span
    module: str


@attrs.frozen
class Capability:
    name: str
    doc: str | None
    span: Span
    module: str


@attrs.frozen
class ParamType:
    kind: str  # "int", "size", "bool", "string" or "enum"
    members: tuple[str, ...] = ()

    def describe(self) -> str:
        if self.kind == "enum":
            return "enum(" + ", ".join(self.members) + ")"
        return self.kind


@attrs.frozen
class ParamDecl:
    name: str
    type: ParamType
    default: PValue | None
    low: int | None
    high: int | None
    doc: str | None
    span: Span
    #: ``divides N``: every value is a positive divisor of N (the span is N's).
    divides: Limit | None = None


@attrs.frozen
class Requirement:
    construct: Ref
    #: The backends this requirement applies to; None means all of them.
    backends: frozenset[str] | None = None

    def applies(self, backend: str) -> bool:
        return self.backends is None or backend in self.backends


@attrs.frozen
class SourceRef:
    """A source file: ``path`` as written (relative), ``file`` resolved on disk."""

    path: str
    file: Path
    span: Span


@attrs.frozen
class SealedFile:
    """A file sealed into the image (the app's ``files``): ``path`` as the image
    names it (below its folder, `/`-separated), ``file`` on disk, ``size`` when
    checked, ``folder`` the `files` entry it came from."""

    path: str
    file: Path
    size: int
    type: str
    folder: SourceRef


@attrs.frozen
class Library:
    name: str
    span: Span
    module: str
    doc: str | None
    provides: tuple[Ref, ...]
    requires: tuple[Requirement, ...]
    sources: tuple[SourceRef, ...]
    #: Supported backends; empty means every backend.
    backends: tuple[str, ...]
    exercises: tuple[Ref, ...]
    params: tuple[ParamDecl, ...]
    conflicts: tuple[Ref, ...]
    init: Ref | None
    min_memory: int
    max_vcpus: int | None
    default: bool
    rank: int
    #: The directory of the declaring module (sources are relative to it).
    directory: Path
    #: Include folders (``includes``): their ``*.h`` are copied and added with ``-I``.
    includes: tuple[SourceRef, ...] = ()
    #: Ports the library listens on (``listens``); a port may name an int parameter.
    listens: tuple[PortRange, ...] = ()
    #: ``sends = true``: the library cannot work without sending (U0158 under ``send = false``).
    sends: bool = False

    def supports(self, backend: str) -> bool:
        return not self.backends or backend in self.backends

    def param(self, name: str) -> ParamDecl | None:
        for p in self.params:
            if p.name == name:
                return p
        return None

    @property
    def c_name(self) -> str:
        return c_name(self.name)


@attrs.frozen
class Override:
    library: Ref
    param: Ref
    value: PValue
    text: str
    span: Span


@attrs.frozen
class Choice:
    construct: Ref
    library: Ref
    span: Span


@attrs.frozen
class Device:
    name: str
    kind: str  # "net" or "block"
    props: tuple[tuple[str, PValue], ...]
    span: Span

    def get(self, key: str, default: PValue | None = None) -> PValue | None:
        for k, v in self.props:
            if k == key:
                return v
        return default


@attrs.frozen
class App:
    name: str
    span: Span
    module: str
    doc: str | None
    sources: tuple[SourceRef, ...]
    entry: Ref
    requires: tuple[Requirement, ...]
    memory: int
    memory_span: Span | None
    vcpus: int
    vcpus_span: Span | None
    cmdline: str
    devices: tuple[Device, ...]
    overrides: tuple[Override, ...]
    choices: tuple[Choice, ...]
    policies: tuple[Ref, ...]
    directory: Path
    #: Include folders (``includes``): their ``*.h`` are copied and added with ``-I``.
    includes: tuple[SourceRef, ...] = ()
    #: Folders sealed into the image (``files``), and the files they hold, sorted
    #: by path; ``files_span`` is the key's span (None: no `files` key).
    files: tuple[SourceRef, ...] = ()
    sealed: tuple[SealedFile, ...] = ()
    files_span: Span | None = None
    #: The root sealed files must stay inside (the app module's root).
    files_root: Path | None = None
    #: Ports the app listens on (``listens``), checked against the policies' ``listen``.
    listens: tuple[PortRange, ...] = ()


@attrs.frozen
class Rule:
    """A capability rule in a policy (``deny`` or ``allow``)."""

    capability: Ref
    allow: bool


@attrs.frozen
class Limit:
    value: int
    span: Span


@attrs.frozen
class Policy:
    name: str
    span: Span
    module: str
    doc: str | None
    includes: tuple[Ref, ...]
    rules: tuple[Rule, ...]
    forbid: tuple[Ref, ...]
    require: tuple[Ref, ...]
    max_memory: Limit | None
    max_vcpus: Limit | None
    max_image_size: Limit | None
    #: Network rules, None when the policy does not set the key; each with the
    #: span of its value.  ``listen``: the ports the image may listen on;
    #: ``peers``: the addresses it may talk to; ``send``: whether it may send.
    listen: tuple[PortRange, ...] | None = None
    listen_span: Span | None = None
    peers: tuple[Cidr, ...] | None = None
    peers_span: Span | None = None
    send: bool | None = None
    send_span: Span | None = None


@attrs.frozen
class Program:
    """Everything the checker found for one backend, names resolved."""

    backend: str
    app: App | None
    constructs: dict[str, Construct]
    capabilities: dict[str, Capability]
    libraries: dict[str, Library]
    policies: dict[str, Policy]
    modules: tuple[ModuleInfo, ...]


def policy_closure(p: Program, names: Iterable[str]) -> list[Policy]:
    """The named policies and everything they include, each once, in a stable order."""
    out: list[Policy] = []
    seen: set[str] = set()
    stack = list(reversed(list(names)))
    while stack:
        n = stack.pop()
        if n in seen or n not in p.policies:
            continue
        seen.add(n)
        pol = p.policies[n]
        out.append(pol)
        stack.extend(reversed([i.name for i in pol.includes]))
    return out
