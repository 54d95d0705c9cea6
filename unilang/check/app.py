"""Pass 2 for the app block -> ``model.App``: its keys, devices, provider choices
(``use``) and parameter overrides (``set``)."""

from __future__ import annotations

import re

from .. import model as M
from ..front import syntax as S
from ..diagnostics import Label, Span, one_of
from ..loader import LoadedModule
from .base import field_text
from .cnaming import CNames
from .files import SOURCE_PATH, Files, SealedFiles
from .netspecs import NetSpecs
from .params import Params
from .schema import APP_KEYS, DEVICE_KEYS, DEVICE_KIND

DEFAULT_MEMORY = 32 << 20
MAX_CMDLINE = 2048
#: patterns for device properties, compiled on first use (``re``'s cache)
MAC = r"[0-9a-f]{2}(:[0-9a-f]{2}){5}\Z"
SAFE_WORD = r"[A-Za-z0-9_.\-]+\Z"


class Apps(Params, Files, SealedFiles, CNames, NetSpecs):
    """Builds ``model.App`` (with its devices, choices, overrides) from the app block."""

    def device(self, d: S.Device) -> M.Device | None:
        self.check_name("device", d.name, d.name_span)
        kind_field = next((f for f in d.fields if f.key == "kind"), None)
        if kind_field is None:
            self.err("U0040", f"device `{d.name}` has no `kind`", d.name_span,
                     help="add `kind = net;` or `kind = block;`")
            return None
        if not self.type_ok(kind_field.value, DEVICE_KIND, "kind"):
            return None
        assert isinstance(kind_field.value, S.Name)
        kind = kind_field.value.value
        f = self.fields(f"{kind} device", d.name, d.fields, DEVICE_KEYS[kind])
        props: list[tuple[str, M.PValue]] = []
        ok = True
        for key in sorted(f.values):
            if key == "kind":
                continue
            val = f.values[key].value
            if isinstance(val, S.Str):
                s = self.safe_string(val, f"`{key}` of device `{d.name}`")
                if s is None:
                    ok = False
                    continue
                if key == "mac":
                    if not re.match(MAC, s.lower()):
                        self.err("U0045", f"`{s}` is not a MAC address", val.span,
                                 help="write six hex pairs: `52:54:00:12:34:56`")
                        ok = False
                        continue
                    s = s.lower()  # any case is accepted; the configs get lower case
                if key == "bridge" and not re.match(SAFE_WORD, s):
                    self.err("U0045", f"bridge name `{s}` is not allowed", val.span,
                             notes=("bridge names use letters, digits, `_`, `-` and `.`",))
                    ok = False
                    continue
                if key == "tap" and not (re.match(SAFE_WORD, s) and len(s) <= 15):
                    self.err("U0045", f"tap device name `{s}` is not allowed", val.span,
                             notes=("Linux interface names: at most 15 letters, digits, `_`, "
                                    "`-` and `.`",))
                    ok = False
                    continue
                if key == "path" and not SOURCE_PATH.match(s):
                    self.err("U0045", f"disk path `{s}` is not allowed", val.span,
                             notes=("disk paths are relative and use letters, digits, `_`, "
                                    "`-`, `.` and `/`",))
                    ok = False
                    continue
                props.append((key, s))
            else:
                assert not isinstance(val, S.List)  # no device key takes a list
                props.append((key, val.value))
        if kind == "block" and "path" not in f.values:
            self.err("U0040", f"block device `{d.name}` has no `path`", d.name_span)
            ok = False
        return M.Device(d.name, kind, tuple(props), d.span) if ok else None

    def app(self, block: S.Block, mod: LoadedModule, libraries: dict[str, M.Library]) -> M.App:
        f = self.fields("app", block.name, block.members, APP_KEYS)
        v = f.values
        for m in block.members:
            if isinstance(m, S.Param):
                self.err("U0032", "`param` is not allowed in an app", m.span,
                         help="parameters are declared by libraries; set them with "
                              "`set LIBRARY.PARAM = VALUE;`")
        if not any(isinstance(m, S.Field) and m.key == "sources" for m in block.members):
            self.err("U0040", f"app `{block.name}` has no `sources`", block.name_span,
                     help='add `sources = ["main.c"];`')
        devices: list[M.Device] = []
        dev_seen: dict[str, Span] = {}
        choices: list[M.Choice] = []
        choice_seen: dict[str, Span] = {}
        overrides: list[M.Override] = []
        override_seen: dict[str, Span] = {}
        for m in block.members:
            if isinstance(m, S.Device):
                if m.name in dev_seen:
                    self.duplicate("device", m.name, m.name_span, dev_seen[m.name])
                    continue
                dev_seen[m.name] = m.name_span
                d = self.device(m)
                if d is not None:
                    devices.append(d)
            elif isinstance(m, S.Use):
                if m.library not in self.library_blocks and m.library in self.foreign:
                    continue
                c = self.construct_ref(m.construct)
                lib = self.library_ref((m.library, m.library_span))
                if c is None or lib is None:
                    continue
                if c.name in choice_seen:
                    self.err("U0033", f"the provider of `{c.name}` is chosen more than once",
                             m.span, labels=(Label(choice_seen[c.name], "first chosen here"),))
                    continue
                choice_seen[c.name] = m.span
                provider = libraries.get(lib.name)
                if provider is not None and c.name not in {p.name for p in provider.provides}:
                    self.err("U0113", f"library `{lib.name}` does not provide `{c.name}`",
                             m.library_span, labels=(Label(provider.span, f"`{lib.name}` is declared here"),),
                             notes=(f"`{lib.name}` provides: "
                                    f"{one_of(p.name for p in provider.provides) or 'nothing'}",))
                    continue
                choices.append(M.Choice(c, lib, m.span))
            elif isinstance(m, S.Set):
                o = self.override(m, libraries)
                if o is None:
                    continue
                key = f"{o.library.name}.{o.param.name}"
                if key in override_seen:
                    self.err("U0033", f"`{key}` is set more than once", m.span,
                             labels=(Label(override_seen[key], "first set here"),))
                    continue
                override_seen[key] = m.span
                overrides.append(o)
        cmdline = ""
        if "cmdline" in v:
            text = v["cmdline"].value
            assert isinstance(text, S.Str)
            cmdline = self.safe_string(text, "cmdline", MAX_CMDLINE) or ""
        memory = self.number(v.get("memory"), APP_KEYS)
        vcpus = self.number(v.get("vcpus"), APP_KEYS)
        entry = self.c_ident(v.get("entry"), "entry") or M.Ref("main", block.name_span)
        files, sealed = self.sealed(v.get("files"), mod.info)
        return M.App(
            name=block.name, span=block.name_span, module=mod.info.name,
            doc=field_text(v.get("doc")),
            sources=self.sources(v.get("sources"), mod.info),
            includes=self.includes(v.get("includes"), mod.info),
            entry=entry,
            requires=tuple(M.Requirement(r) for r in self.refs(v.get("requires"), self.construct_ref)),
            memory=memory if memory is not None else DEFAULT_MEMORY,
            memory_span=v["memory"].value.span if "memory" in v else None,
            vcpus=vcpus if vcpus is not None else 1,
            vcpus_span=v["vcpus"].value.span if "vcpus" in v else None,
            cmdline=cmdline,
            devices=tuple(devices),
            overrides=tuple(overrides),
            choices=tuple(choices),
            policies=self.refs(v.get("policies"), self.policy_ref),
            directory=mod.info.path.parent,
            files=files,
            sealed=sealed,
            files_span=v["files"].key_span if "files" in v else None,
            files_root=mod.info.root_path,
            listens=self.port_specs(v.get("listens"), False),
        )
