"""`unilang inspect IMAGE`: the image describes itself, from its manifest note alone.

Every example image, on both backends, is inspected and compared with the
manifest.json its build wrote; damaged and foreign files get diagnostics,
never a traceback."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from support import ROOT, needs_tools, unilang

BACKENDS = ("kvm", "xen")
#: every example app: examples/<x>/<x>.uni and the project's apps (examples/project/apps/)
EXAMPLES = sorted(d / f"{d.name}.uni" for base in (ROOT / "examples",
                                                   ROOT / "examples" / "project" / "apps")
                  for d in base.iterdir() if (d / f"{d.name}.uni").is_file())
#: examples that cannot be built on a backend (no net.link provider on xen)
NOT_ON = {"udp-echo": ("xen",), "http": ("xen",)}


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], Path]:
    """(example, backend) -> its build directory (each example built once per backend)."""
    base = tmp_path_factory.mktemp("inspect")
    out: dict[tuple[str, str], Path] = {}
    for spec in EXAMPLES:
        for backend in BACKENDS:
            d = base / f"{spec.stem}-{backend}"
            r = unilang("build", str(spec), "-b", backend, "-o", str(d))
            if backend in NOT_ON.get(spec.stem, ()):
                assert r.returncode == 1 and "error[U0100]" in r.stderr, r.stderr
                continue
            assert r.returncode == 0, r.stderr
            out[spec.stem, backend] = d
    return out


def _inspect_json(image: Path) -> dict:  # type: ignore[type-arg]
    r = unilang("inspect", str(image), "--format", "json")
    assert r.returncode == 0, r.stdout + r.stderr
    return json.loads(r.stdout)


@needs_tools
@pytest.mark.parametrize("example,backend", [(s.stem, b) for s in EXAMPLES for b in BACKENDS
                                             if b not in NOT_ON.get(s.stem, ())])
def test_every_example_describes_itself(images: dict[tuple[str, str], Path], example: str,
                                        backend: str) -> None:
    d = images[example, backend]
    manifest = json.loads((d / "manifest.json").read_text())
    image = d / manifest["image"]
    # inspect reads the image alone: a copy in an empty folder, no spec, no build dir
    alone = d.parent / f"alone-{example}-{backend}"
    alone.mkdir()
    shutil.copy(image, alone / image.name)
    got = _inspect_json(alone / image.name)
    assert got["manifest"] is None
    data = image.read_bytes()
    assert got["size"] == len(data) == manifest["size"]
    assert got["sha256"] == hashlib.sha256(data).hexdigest() == manifest["sha256"]
    note = got["note"]
    for key in ("app", "backend", "memory", "vcpus", "cmdline", "rules", "protections"):
        assert note[key] == manifest[key], key
    assert note["libraries"] == [lib["name"] for lib in manifest["libraries"]]
    assert sorted(note["params"].items()) == sorted(
        (f"{lib['name']}.{p['name']}", p["value"])
        for lib in manifest["libraries"] for p in lib["params"])
    verdicts: dict[str, bool] = {}
    for v in manifest["policies"]:
        verdicts.setdefault(v["name"], v["ok"])
    assert note["policies"] == [{"name": n, "ok": ok} for n, ok in verdicts.items()]
    assert "wx-segments" in note["protections"]
    assert ("net-policy" in note["protections"]) == ("network" in note["rules"]) \
        == ("ipv4" in note["libraries"])
    # beside its manifest, inspect compares the two and finds them in agreement
    beside = _inspect_json(image)
    assert beside["manifest"] == {"agrees": True, "differences": []}
    assert beside["note"] == note


@needs_tools
def test_text_output(images: dict[tuple[str, str], Path]) -> None:
    d = images["udp-echo", "kvm"]
    r = unilang("inspect", str(d / "udp-echo.elf"))
    assert r.returncode == 0 and r.stderr == "", r.stderr
    m = json.loads((d / "manifest.json").read_text())
    head = (f"image: {d / 'udp-echo.elf'}\n  size: {m['size']} bytes\n  sha256: {m['sha256']}\n"
            "  manifest.json: agrees with the image (sha256, size and note)\n"
            "  the note is in the image, so the sha256 covers it\n\napp: udp-echo\n"
            "backend: kvm\nmemory: 16 MiB, vcpus: 1\n\nlibraries (init order):\n")
    assert r.stdout.startswith(head), r.stdout
    assert "\nparameters:\n  arp.cache_size = 16\n  ipv4.address = \"10.0.2.15\"\n" in r.stdout
    assert "\npolicies:\n  (none applied)\n" in r.stdout
    assert ("\nrun-time rules (network):\n  listen: any port\n  peers: any address\n"
            "  send: allowed\n") in r.stdout
    assert "\nprotections:\n  wx-segments: no loaded segment is both writable and executable" \
        in r.stdout
    hello = unilang("inspect", str(images["hello", "xen"] / "hello.elf"))
    assert "run-time rules (network):\n  none: the image has no network stack\n" in hello.stdout


# ------------------------------------------------------------------ disagreement

@needs_tools
def test_a_disagreeing_manifest_is_reported(images: dict[tuple[str, str], Path],
                                            tmp_path: Path) -> None:
    src = images["hello", "kvm"]
    d = tmp_path / "copy"
    d.mkdir()
    shutil.copy(src / "hello.elf", d / "hello.elf")
    m = json.loads((src / "manifest.json").read_text())
    m["libraries"] = m["libraries"][1:]
    m["memory"] = 1 << 30
    (d / "manifest.json").write_text(json.dumps(m))
    r = unilang("inspect", str(d / "hello.elf"))
    assert r.returncode == 1
    assert "Traceback" not in r.stderr
    assert "  manifest.json: DISAGREES with the image (2 differences)\n" in r.stdout
    assert r.stderr.startswith(f"error[U0216]: `{d / 'manifest.json'}` and the image disagree\n")
    assert "= note: memory: manifest.json says 1073741824, the image 16777216" in r.stderr
    # a changed image: its hash no longer matches, nor does what its note says
    data = bytearray((src / "hello.elf").read_bytes())
    at = data.find(b'"app":"hello"')
    data[at + 7:at + 12] = b"jello"
    (d / "hello.elf").write_bytes(bytes(data))
    (d / "manifest.json").write_text((src / "manifest.json").read_text())
    r = unilang("inspect", str(d / "hello.elf"), "--format", "json")
    assert r.returncode == 1
    doc = json.loads(r.stdout)
    assert doc["manifest"]["agrees"] is False
    assert doc["manifest"]["differences"][0].startswith('sha256: manifest.json says "')
    assert doc["manifest"]["differences"][1] == 'app: manifest.json says "hello", the image "jello"'
    assert [x["code"] for x in doc["diagnostics"]] == ["U0216"]


# ------------------------------------------------------------------ bad input

def _bad(path: Path, code: str, message: str) -> None:
    for fmt in ("text", "json"):
        r = unilang("inspect", str(path), "--format", fmt)
        assert r.returncode == 1, r.stdout + r.stderr
        assert "Traceback" not in r.stderr
        if fmt == "text":
            assert r.stdout == ""
            assert r.stderr.startswith(f"error[{code}]: `{path}`: {message}\n"), r.stderr
        else:
            d = json.loads(r.stdout)["diagnostics"]
            assert [(x["code"], x["message"]) for x in d] == [(code, f"`{path}`: {message}")]


def test_not_an_elf(tmp_path: Path) -> None:
    for name, data in (("empty", b""), ("text", b"hello\n" * 20), ("short", b"\x7fELF\x02\x01"),
                       ("elf32", b"\x7fELF\x01\x01" + b"\0" * 100)):
        (tmp_path / name).write_bytes(data)
    _bad(tmp_path / "empty", "U0214", "not an ELF file")
    _bad(tmp_path / "text", "U0214", "not an ELF file")
    _bad(tmp_path / "short", "U0214", "not an ELF file")
    _bad(tmp_path / "elf32", "U0214", "not a 64-bit little-endian ELF file, as unilang images are")


def test_a_directory_or_missing_file(tmp_path: Path) -> None:
    for p in (tmp_path, tmp_path / "missing.elf"):
        r = unilang("inspect", str(p))
        assert r.returncode == 1 and r.stderr.startswith(
            f"error[U0001]: cannot read `{p}`: not a regular file"), r.stderr


def test_an_elf_that_unilang_did_not_build() -> None:
    true = Path(shutil.which("true") or "/bin/true").resolve()
    r = unilang("inspect", str(true))
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert r.stderr.startswith(f"error[U0215]: `{true}`: the image has no manifest note"), r.stderr


@needs_tools
def test_damaged_images(images: dict[tuple[str, str], Path], tmp_path: Path) -> None:
    data = (images["hello", "kvm"] / "hello.elf").read_bytes()
    note = data.find(b"unilang\0")  # the note's name; its header is the 12 bytes before
    assert note > 0
    cases = {
        "headers": data[:100],                  # program headers cut off
        "segment": data[:note + 40],            # the note segment runs past the end
        "descsz": data[:note - 8] + (10 ** 6).to_bytes(4, "little") + data[note - 4:],
        "json": data[:note + 8] + b"x" + data[note + 9:],  # `{` -> `x`
    }
    for name, blob in cases.items():
        (tmp_path / name).write_bytes(blob)
    _bad(tmp_path / "headers", "U0214", "the ELF program headers are missing or truncated")
    import io

    from elftools.elf.elffile import ELFFile

    seg = next(s for s in ELFFile(io.BytesIO(data)).iter_segments() if s["p_type"] == "PT_NOTE")
    start, end = seg["p_offset"], seg["p_offset"] + seg["p_filesz"]
    _bad(tmp_path / "segment", "U0215", f"the note segment is truncated: it claims bytes "
                                        f"{start} to {end}, the file has {note + 40}")
    _bad(tmp_path / "descsz", "U0215", "a note in the note segment is truncated: it claims 8 "
                                       "name bytes and 1000000 bytes of description, the "
                                       f"segment has {end - note} left")
    _bad(tmp_path / "json", "U0215", "the manifest note is damaged: not UTF-8 JSON (Expecting "
                                     "value: line 1 column 1 (char 0))")


# ------------------------------------------------------------------ forged notes

def _elf_with_note(desc: bytes, name: bytes = b"unilang\0", ntype: int = 1) -> bytes:
    """A minimal 64-bit little-endian ELF: its header, one PT_NOTE program header
    and the note (enough for `inspect`, which reads nothing else)."""
    import struct

    note = struct.pack("<III", len(name), len(desc), ntype) + name + b"\0" * (-len(name) % 4) \
        + desc + b"\0" * (-len(desc) % 4)
    ehdr = b"\x7fELF\x02\x01\x01" + b"\0" * 9 + struct.pack(
        "<HHIQQQIHHHHHH", 2, 62, 1, 0, 64, 0, 0, 64, 56, 1, 0, 0, 0)
    phdr = struct.pack("<IIQQQQQQ", 4, 4, 120, 0, 0, len(note), len(note), 4)
    return ehdr + phdr + note


_json = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=8),
                     lambda kids: st.lists(kids, max_size=3)
                     | st.dictionaries(st.text(max_size=6), kids, max_size=3), max_leaves=12)
_keys = st.sampled_from(["memory", "vcpus", "cmdline", "params", "rules", "protections",
                         "version", "other"])


@settings(max_examples=150)
@given(app=st.text(max_size=12), libs=st.lists(_json, max_size=4),
       pols=st.lists(_json, max_size=3), extra=st.dictionaries(_keys, _json, max_size=6),
       network=_json)
def test_any_note_is_shown_never_acted_on(tmp_path_factory: pytest.TempPathFactory, app: str,
                                          libs: list, pols: list, extra: dict,  # type: ignore[type-arg]
                                          network: object) -> None:
    """Whatever a (forged) note holds beyond its required keys, inspect shows it
    without an exception and without a raw control character."""
    from unilang.imageinfo import as_json, as_text, read_image

    doc = {"app": app + "\x1b[31m", "backend": "kvm\u202e", "libraries": libs, "policies": pols,
           **extra}
    if "rules" in extra:
        doc["rules"] = {"network": network}
    path = tmp_path_factory.mktemp("forged") / "x.elf"
    path.write_bytes(_elf_with_note(json.dumps(doc).encode()))
    info, diags = read_image(path)
    assert info is not None and diags == []
    text = as_text(info)
    assert "\x1b" not in text and "\u202e" not in text and "\\x1b[31m" in text
    json.dumps(as_json(info))


def test_a_forged_note_of_another_type_is_not_read(tmp_path: Path) -> None:
    (tmp_path / "other").write_bytes(_elf_with_note(b'{"app":"x"}', ntype=2))
    _bad(tmp_path / "other", "U0215", 'the image has no manifest note: no note named "unilang" '
                                      "of type 1")
    (tmp_path / "list").write_bytes(_elf_with_note(b'["app"]'))
    _bad(tmp_path / "list", "U0215", "the manifest note is damaged: not a JSON object")
    (tmp_path / "nolibs").write_bytes(_elf_with_note(b'{"app":"x","backend":"kvm","policies":[]}'))
    _bad(tmp_path / "nolibs", "U0215", "the manifest note is damaged: `libraries` is missing or "
                                       "not a list")
