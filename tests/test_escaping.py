"""Hostile strings through every field that reaches a generated file.

Each value is either rejected by the checker with a diagnostic, or written
so that the file, read back by that format's own rules, yields the same
value.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from support import needs_tools, unilang
from unilang.emit import escape as E
from unilang.kvmprobe import with_accel


HOSTILE = [
    'say "hi"',
    "it's",
    "back\\slash\\",
    "$(reboot) `id` ${HOME}",
    "a; rm -rf / # not a comment",
    "<tag attr='x'>&amp;</tag>",
    "café ü 日本 🚀",
    "--option=-x -- -",
    "*/ /* */",
    "",
]


def spec_string(value: str) -> str:
    """``value`` as a .uni string literal."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def xl_read_string(text: str, key: str) -> str:
    """Read back a double-quoted xl.cfg string value with libxlu's escape rules."""
    for line in text.splitlines():
        if line.startswith(f"{key} = "):
            raw = line[len(key) + 3:]
            assert raw[0] == '"' and raw[-1] == '"', line
            out, i = [], 1
            while i < len(raw) - 1:
                if raw[i] == "\\":
                    out.append(raw[i + 1])
                    i += 2
                else:
                    assert raw[i] != '"', f"unescaped quote in {line}"
                    out.append(raw[i])
                    i += 1
            return "".join(out)
    raise AssertionError(f"{key} not in xl.cfg")


def write_app(d: Path, cmdline: str, greeting: str, extra: str = "") -> Path:
    d.mkdir(parents=True, exist_ok=True)
    (d / "main.c").write_text("int main(void) { return 0; }\n")
    (d / "app.uni").write_text(f"""
construct t.greet "A greeting";
library greeter {{
    provides = [t.greet];
    param greeting: string = "hello" "What to say";
}}
app hostile {{
    sources = ["main.c"];
    requires = [t.greet];
    cmdline = {spec_string(cmdline)};
    set greeter.greeting = {spec_string(greeting)};
{extra}
}}
""", encoding="utf-8")
    return d / "app.uni"


@needs_tools
@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_string_round_trips(tmp_path: Path, value: str) -> None:
    spec = write_app(tmp_path / "app", value, value, extra="""
    device net0 { kind = net; mac = "52:54:00:12:34:56"; bridge = "xenbr0"; }
    device disk0 { kind = block; path = "disks/root.img"; readonly = true; }""")
    outs = {}
    for backend in ("kvm", "xen"):
        out = tmp_path / backend
        r = unilang("build", str(spec), "--backend", backend, "-o", str(out))
        assert r.returncode == 0, r.stderr
        outs[backend] = out
    kvm, xen = outs["kvm"], outs["xen"]

    # xl.cfg, with libxlu's quoting rules
    xl = (xen / "xl.cfg").read_text(encoding="utf-8")
    assert xl_read_string(xl, "cmdline") == value
    assert "vif = [\"mac=52:54:00:12:34:56,bridge=xenbr0\", ]" in xl
    assert 'disk = ["format=raw, vdev=xvda, access=ro, target=disks/root.img", ]' in xl
    # libvirt XML, both backends
    for d in (kvm, xen):
        dom = ET.parse(d / "libvirt.xml").getroot()
        assert (dom.findtext("os/cmdline") or "") == value
        assert dom.find("devices/interface/mac").get("address") == "52:54:00:12:34:56"  # type: ignore[union-attr]
    if shutil.which("virt-xml-validate"):
        for d in (kvm, xen):
            v = subprocess.run(["virt-xml-validate", str(d / "libvirt.xml"), "domain"],
                               capture_output=True, text=True, check=False)
            assert v.returncode == 0, v.stdout + v.stderr
    # JSON files
    fc = json.loads((kvm / "firecracker.json").read_text(encoding="utf-8"))
    assert fc["boot-source"]["boot_args"] == value
    assert fc["drives"][0]["is_read_only"] is True
    argv = json.loads((kvm / "qemu.json").read_text(encoding="utf-8"))
    assert (argv[argv.index("-append") + 1] if value else None) == (value or None)
    assert json.loads((kvm / "manifest.json").read_text(encoding="utf-8"))["cmdline"] == value
    # the shell script, run for real against a fake QEMU that prints its argv
    fake = tmp_path / "fakebin"
    fake.mkdir()
    (fake / "qemu-system-x86_64").write_text(
        "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\0' \"$a\"; done\n")
    os.chmod(fake / "qemu-system-x86_64", 0o755)
    # the KVM path (a usable "device"), then the TCG path (none), whatever this host has
    device = tmp_path / "kvm-device"
    device.write_bytes(b"")
    for dev, expected in ((device, argv), (tmp_path / "none", with_accel(argv, "tcg"))):
        env = dict(os.environ, PATH=f"{fake}:{os.environ['PATH']}", UNILANG_KVM_DEVICE=str(dev))
        got = subprocess.run(["sh", str(kvm / "run-qemu.sh")], env=env, capture_output=True,
                             check=True).stdout.decode("utf-8").split("\0")[:-1]
        assert got == expected[1:]
    # the C string in unilang_params.h, compiled and printed by the host compiler
    prog = tmp_path / "show.c"
    prog.write_text('#include <stdio.h>\nint main(void){fputs(UNILANG_PARAM_GREETER_GREETING,'
                    ' stdout); return 0;}\n')
    exe = tmp_path / "show"
    subprocess.run(["gcc", "-include", str(kvm / "unilang_params.h"), str(prog), "-o", str(exe)],
                   check=True)
    assert subprocess.run([str(exe)], capture_output=True, check=True).stdout.decode() == value


@pytest.mark.parametrize("field,value,code", [
    ("cmdline", "line1\nline2", "U0044"),
    ("cmdline", "tab\there", "U0044"),
    ("cmdline", "esc\x1b[31m", "U0044"),
    ("greeting", "bell\x07", "U0044"),
])
def test_control_characters_are_rejected(tmp_path: Path, field: str, value: str,
                                         code: str) -> None:
    spec_value = value.replace("\n", "\\n").replace("\t", "\\t")
    spec_value = spec_value.replace("\x1b", "\\u{1b}").replace("\x07", "\\u{7}")
    d = tmp_path / "app"
    spec = write_app(d, "ok", "ok")
    text = spec.read_text()
    if field == "cmdline":
        text = text.replace('cmdline = "ok";', f'cmdline = "{spec_value}";')
    else:
        text = text.replace('set greeter.greeting = "ok";', f'set greeter.greeting = "{spec_value}";')
    spec.write_text(text)
    r = unilang("check", str(spec), "--format", "json")
    assert r.returncode == 1
    codes = [d["code"] for d in json.loads(r.stdout)["diagnostics"]]
    assert codes == [code]


@pytest.mark.parametrize("device,code", [
    ('device n { kind = net; bridge = "br0; reboot"; }', "U0045"),
    ('device n { kind = net; bridge = "br0\\" x=\\"y"; }', "U0045"),
    ('device n { kind = net; mac = "52:54:00:12:34:5G"; }', "U0045"),
    ('device n { kind = net; mac = "<52:54:00:12:34:56>"; }', "U0045"),
    ('device d { kind = block; path = "/etc/shadow"; }', "U0045"),
    ('device d { kind = block; path = "a,target=/etc/shadow"; }', "U0045"),
    ('device d { kind = block; path = "x.img</source>"; }', "U0045"),
])
def test_unsafe_device_values_are_rejected(tmp_path: Path, device: str, code: str) -> None:
    spec = write_app(tmp_path / "app", "ok", "ok", extra="    " + device)
    r = unilang("check", str(spec), "--format", "json")
    assert r.returncode == 1, r.stdout
    assert [d["code"] for d in json.loads(r.stdout)["diagnostics"]] == [code]


def test_names_are_restricted_by_the_grammar(tmp_path: Path) -> None:
    for bad in ('app he$llo { sources = ["m.c"]; }', "app 'x' { }", 'app a"b { }'):
        p = tmp_path / "bad.uni"
        p.write_text(bad)
        r = unilang("check", str(p), "--format", "json")
        assert r.returncode == 1
        assert json.loads(r.stdout)["diagnostics"][0]["code"] == "U0010"


def test_escape_functions_reject_what_they_cannot_represent() -> None:
    for fn in (E.xl_string, E.xml_text, E.ninja_path, E.lds_comment):
        with pytest.raises(E.Unrepresentable):
            fn("new\nline")
    for fn in (E.ninja_word, E.lds_symbol, E.c_ident):
        with pytest.raises(E.Unrepresentable):
            fn("a b")
    assert E.shell("it's") == "'it'\\''s'"
    assert E.c_string('a"\\\n') == '"a\\"\\\\\\012"'
    assert E.lds_comment("x */ y") == "x * / y"


def test_templates_refuse_unescaped_values(tmp_path: Path) -> None:
    from unilang.emit.templates import render

    (tmp_path / "t.j2").write_text("name = {{ name }}\n")
    with pytest.raises(TypeError, match="unescaped value"):
        render([tmp_path], "t.j2", name="x")
    (tmp_path / "u.j2").write_text("name = {{ name | xl }}\n")
    assert render([tmp_path], "u.j2", name='a"b') == 'name = "a\\"b"\n'
