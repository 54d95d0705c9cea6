"""Backends are data: every folder under ``backends/`` is one.

A backend folder holds:

* ``backend.uni``: its own module (declarations that are not libraries);
* ``lib/<name>/``: its platform libraries (console, shutdown, ...), one
  folder each, found by discovery (``unilang.libfolders``);
* ``include/`` (optional): headers its libraries share, seen by its builds;
* ``backend.toml``: its platform facts: how QEMU boots its images (machine,
  CPU, console and exit devices), the defaults its configurations use, and
  the files a build emits for it;
* ``image.lds.j2``: its linker script, and one ``NAME.j2`` for every emitted
  file NAME that is not one of the shared templates in ``stdlib/templates``.

Nothing in the compiler names a backend: adding one is adding a folder.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import attrs

from . import paths
from .paths import backend_names as names, default_backend as default_name

__all__ = ["Backend", "BackendError", "Qemu", "default_name", "load", "names"]

DESCRIPTOR = "backend.toml"
REQUIRED = ("backend.uni", DESCRIPTOR, "image.lds.j2")
_ALNUM = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
_LOWER_ALNUM = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")
_FILE_CHARS = _ALNUM.union("_.-")
_HYPERVISOR_CHARS = _LOWER_ALNUM.union("-")


def is_file_name(f: str) -> bool:
    """Whether ``f`` is a name a backend may emit: ``[A-Za-z0-9_][A-Za-z0-9_.-]*``
    (tested without a pattern, which every check would compile)."""
    return f != "" and (f[0] in _ALNUM or f[0] == "_") and _FILE_CHARS.issuperset(f)


def is_hypervisor_name(h: str) -> bool:
    """Whether ``h`` is ``[a-z0-9][a-z0-9-]{0,31}`` (without a pattern, as above)."""
    return 1 <= len(h) <= 32 and h[0] in _LOWER_ALNUM and _HYPERVISOR_CHARS.issuperset(h)


class BackendError(Exception):
    """A backend folder that is missing a piece or describes itself wrongly."""


@attrs.frozen
class Qemu:
    """How `unilang run`, `qemu.json` and `run-qemu.sh` boot an image."""

    machine: str
    cpu: str
    console: tuple[str, ...]   # QEMU arguments that connect the guest console to stdio
    devices: tuple[str, ...]   # one `-device` each: the exit device, a debug console ...
    #: QEMU arguments once for an app with a `kind = net` device (a -global ...), and
    #: per net device with ``{id}`` (its netdev id) and ``{mac}`` (``,mac=...`` or nothing).
    #: Empty: QEMU gives this backend's guests no NIC.
    net_once: tuple[str, ...] = ()
    net: tuple[str, ...] = ()


@attrs.frozen
class Backend:
    name: str
    directory: Path
    doc: str
    default: bool
    qemu: Qemu
    disk_prefix: str           # guest disk names: vda, vdb ... or xvda ...
    bridge: str                # the host bridge a net device joins unless it names one
    emits: tuple[str, ...]     # the configuration files a build writes
    #: ``[oci] hypervisors``: the monitors `unilang package --hypervisor` may name
    #: for this backend's images, the default first; empty: it cannot be packaged
    hypervisors: tuple[str, ...] = ()

    def facts(self) -> dict[str, Any]:
        """What a result that used this backend depends on (``unilang.fresh``):
        its descriptor, its linker script, and which templates exist."""
        from .fresh import dir_fact, sha_fact

        shared = paths.stdlib_dir() / "templates"
        return {str(self.directory / DESCRIPTOR): sha_fact(str(self.directory / DESCRIPTOR)),
                str(self.directory / "image.lds.j2"): sha_fact(str(self.directory / "image.lds.j2")),
                str(self.directory): dir_fact(str(self.directory)),
                str(shared): dir_fact(str(shared)),
                str(paths.backends_dir()): dir_fact(str(paths.backends_dir()))}

    def template_search(self) -> list[Path]:
        """Where templates are looked up: the backend's folder, then the shared ones."""
        return [self.directory, paths.stdlib_dir() / "templates"]


def _get(doc: dict[str, Any], key: str, kind: type, where: str) -> Any:
    value = doc.get(key)
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        what = {str: "a string", bool: "true or false", list: "a list of strings",
                dict: "a table"}[kind]
        raise BackendError(f"`{key}` in {where} must be {what}")
    if kind is list and not all(isinstance(v, str) for v in value):
        raise BackendError(f"`{key}` in {where} must be a list of strings")
    return value


def _net_args(qemu: dict[str, Any], where: str) -> tuple[str, ...]:
    """``[qemu] net``: only ``{id}`` and ``{mac}`` may be substituted."""
    if "net" not in qemu:
        return ()
    args = tuple(_get(qemu, "net", list, f"[qemu] of {where}"))
    for a in args:
        try:
            a.format(id="x", mac="")
        except (KeyError, IndexError, ValueError):
            raise BackendError(f"`net` in [qemu] of {where}: `{a}` may use only {{id}} and "
                               "{mac} (write {{ and }} for braces)") from None
    return args


def _hypervisors(doc: dict[str, Any], where: str) -> tuple[str, ...]:
    """``[oci] hypervisors``: names of lower case letters, digits and `-`."""
    if "oci" not in doc:
        return ()
    oci = _get(doc, "oci", dict, where)
    names = tuple(_get(oci, "hypervisors", list, f"[oci] of {where}"))
    for h in names:
        if not is_hypervisor_name(h):
            raise BackendError(f"`hypervisors` in [oci] of {where}: `{h}` is not a hypervisor "
                               "name (lower case letters, digits and `-`)")
    return names


def _templates(directory: Path) -> list[Path]:
    """``sorted(directory.glob("*.j2"))`` without compiling a pattern on every
    check: the same paths (a folder that is gone or unreadable has none, as for
    ``glob``)."""
    try:
        names = os.listdir(directory)
    except (FileNotFoundError, NotADirectoryError, PermissionError):
        return []
    return sorted(directory / n for n in names if n.endswith(".j2"))


def load(name: str) -> Backend:
    """The backend called ``name``; ``BackendError`` says what is wrong with its folder."""
    from . import quicktoml

    directory = paths.backends_dir() / name
    if not directory.is_dir():
        raise BackendError(f"there is no folder `backends/{name}`")
    for piece in REQUIRED:
        if not (directory / piece).is_file():
            raise BackendError(f"`backends/{name}/{piece}` is missing")
    where = f"backends/{name}/{DESCRIPTOR}"
    try:
        text = (directory / DESCRIPTOR).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BackendError(f"cannot read {where}: {exc}") from None
    doc = quicktoml.loads(text)  # the plain TOML descriptors use, without importing tomllib
    if doc is None:
        import tomllib

        try:
            doc = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise BackendError(f"{where} is not valid TOML: {exc}") from None
    if doc.get("name") != name:
        raise BackendError(f"{where} says `name = {doc.get('name')!r}`, but its folder is "
                           f"`{name}`")
    if bool(doc.get("default", False)) != paths.declares_default(directory / DESCRIPTOR):
        raise BackendError(f"{where}: write `default = true` on a line of its own, before "
                           "any table")
    qemu = _get(doc, "qemu", dict, where)
    configs = _get(doc, "configs", dict, where)
    emits = tuple(_get(doc, "emits", list, where))
    shared = paths.stdlib_dir() / "templates"
    for f in emits:
        if not is_file_name(f) or f in ("image.lds", "build.ninja", "manifest.json"):
            raise BackendError(f"{where} emits `{f}`, which is not a file name a backend "
                               "may emit")
        if not ((directory / f"{f}.j2").is_file() or (shared / f"{f}.j2").is_file()):
            raise BackendError(f"{where} emits `{f}`, but neither backends/{name}/{f}.j2 "
                               f"nor stdlib/templates/{f}.j2 exists")
    for t in _templates(directory):
        if t.name != "image.lds.j2" and t.name[:-3] not in emits:
            raise BackendError(f"backends/{name}/{t.name} is not rendered: add "
                               f"`{t.name[:-3]}` to `emits` in {where}, or remove it")
    return Backend(
        name=name, directory=directory, doc=str(doc.get("doc", "")),
        default=bool(doc.get("default", False)),
        qemu=Qemu(machine=_get(qemu, "machine", str, f"[qemu] of {where}"),
                  cpu=_get(qemu, "cpu", str, f"[qemu] of {where}"),
                  console=tuple(_get(qemu, "console", list, f"[qemu] of {where}")),
                  devices=tuple(_get(qemu, "devices", list, f"[qemu] of {where}")),
                  net_once=tuple(_get(qemu, "net_once", list, f"[qemu] of {where}")
                                 if "net_once" in qemu else ()),
                  net=_net_args(qemu, where)),
        disk_prefix=_get(configs, "disk_prefix", str, f"[configs] of {where}"),
        bridge=_get(configs, "bridge", str, f"[configs] of {where}"),
        emits=emits,
        hypervisors=_hypervisors(doc, where),
    )
