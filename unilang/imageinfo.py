"""`unilang inspect`: what an image says about itself, read from the image alone.

The manifest note (``.note.unilang``: name "unilang", type 1, JSON; written by
``unilang.emit.note``) is found through the program headers (a PT_NOTE
segment), so a stripped image works, and every offset and length read from
the file is checked against the file before it is used: a file that is not a
64-bit little-endian ELF is U0214, an image without a readable note U0215.
The image's size and sha256 are computed from the file.  When a
``manifest.json`` sits beside the image, it is compared with the image (its
sha256 and size) and with the note (app, backend, libraries, policies ...):
any disagreement is U0216.
"""

from __future__ import annotations

import hashlib
import json
import struct
from pathlib import Path
from typing import Any

import attrs

from .diagnostics import Diagnostic, error

PT_NOTE = 4
NOTE_NAME = "unilang"
NOTE_TYPE = 1
#: Keys the note must carry, and their JSON types (older notes lack the rest).
REQUIRED = {"app": str, "backend": str, "libraries": list, "policies": list}
#: The largest file inspect reads (an image is far smaller; this bounds memory).
MAX_IMAGE = 1 << 30


@attrs.frozen
class ImageInfo:
    path: str
    size: int
    sha256: str
    note: dict[str, Any]
    #: None: no manifest.json beside the image; else the differences (empty: agrees)
    differences: tuple[str, ...] | None


def read_image(path: Path) -> tuple[ImageInfo | None, list[Diagnostic]]:
    """The image's description, or the diagnostics saying why there is none; a
    disagreeing manifest.json gives both."""
    try:
        if not path.is_file():
            return None, [error("U0001", f"cannot read `{path}`: not a regular file")]
        if path.stat().st_size > MAX_IMAGE:
            return None, [error("U0214", f"`{path}` is larger than 1 GiB; it is not a unilang "
                                         "image")]
        data = path.read_bytes()
    except OSError as exc:
        return None, [error("U0001", f"cannot read `{path}`: {exc.strerror or exc}")]
    note, problem = find_note(data)
    if problem is not None:
        return None, [attrs.evolve(problem, message=f"`{path}`: {problem.message}")]
    assert note is not None
    info = ImageInfo(str(path), len(data), hashlib.sha256(data).hexdigest(), note,
                     _compare_manifest(path, len(data), hashlib.sha256(data).hexdigest(), note))
    diags = []
    if info.differences:
        diags.append(error(
            "U0216", f"`{path.parent / 'manifest.json'}` and the image disagree",
            notes=info.differences,
            help="the image is covered by its sha256 and describes itself in its note: "
                 "rebuild, or trust neither until you know which changed"))
    return info, diags


def find_note(data: bytes) -> tuple[dict[str, Any] | None, Diagnostic | None]:
    """The note's JSON object, or a U0214/U0215 diagnostic (without a file name)."""
    if len(data) < 64 or data[:4] != b"\x7fELF":
        return None, error("U0214", "not an ELF file", help="give the `<app>.elf` that "
                           "`unilang build` wrote")
    if data[4] != 2 or data[5] != 1:
        return None, error("U0214", "not a 64-bit little-endian ELF file, as unilang images are")
    phoff, = struct.unpack_from("<Q", data, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    if phentsize < 56 or phnum == 0 or phoff + phentsize * phnum > len(data):
        return None, error("U0214", "the ELF program headers are missing or truncated")
    found_notes = False
    for i in range(phnum):
        p_type, = struct.unpack_from("<I", data, phoff + i * phentsize)
        if p_type != PT_NOTE:
            continue
        found_notes = True
        p_offset, = struct.unpack_from("<Q", data, phoff + i * phentsize + 8)
        p_filesz, = struct.unpack_from("<Q", data, phoff + i * phentsize + 32)
        if p_offset + p_filesz > len(data):
            return None, error("U0215", f"the note segment is truncated: it claims bytes "
                               f"{p_offset} to {p_offset + p_filesz}, the file has {len(data)}")
        seg = data[p_offset:p_offset + p_filesz]
        off = 0
        while off + 12 <= len(seg):
            namesz, descsz, ntype = struct.unpack_from("<III", seg, off)
            name_end = off + 12 + namesz
            desc_at = off + 12 + ((namesz + 3) & ~3)
            if name_end > len(seg) or desc_at + descsz > len(seg):
                return None, error("U0215", f"a note in the note segment is truncated: it "
                                   f"claims {namesz} name bytes and {descsz} bytes of "
                                   f"description, the segment has {len(seg) - off - 12} left")
            name = seg[off + 12:name_end].rstrip(b"\0")
            if name == NOTE_NAME.encode() and ntype == NOTE_TYPE:
                return _decode(seg[desc_at:desc_at + descsz])
            off = desc_at + ((descsz + 3) & ~3)
    what = "no note segment" if not found_notes else "no note named \"unilang\" of type 1"
    return None, error("U0215", f"the image has no manifest note: {what}",
                       help="only images built by unilang carry one")


def _decode(desc: bytes) -> tuple[dict[str, Any] | None, Diagnostic | None]:
    try:
        doc = json.loads(desc.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        return None, error("U0215", f"the manifest note is damaged: not UTF-8 JSON ({exc})")
    if not isinstance(doc, dict):
        return None, error("U0215", "the manifest note is damaged: not a JSON object")
    for key, typ in REQUIRED.items():
        if not isinstance(doc.get(key), typ):
            return None, error("U0215", f"the manifest note is damaged: `{key}` is missing or "
                               f"not a {typ.__name__}")
    return doc, None


def _compare_manifest(image: Path, size: int, sha: str,
                      note: dict[str, Any]) -> tuple[str, ...] | None:
    mpath = image.parent / "manifest.json"
    try:
        text = mpath.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        return (f"manifest.json cannot be read: {exc}",)
    try:
        m = json.loads(text)
    except ValueError as exc:
        return (f"manifest.json is not valid JSON: {exc}",)
    if not isinstance(m, dict):
        return ("manifest.json is not a JSON object",)
    diffs: list[str] = []

    def differ(what: str, in_manifest: object, in_image: object) -> None:
        if in_manifest != in_image:
            diffs.append(f"{what}: manifest.json says {_show(in_manifest)}, the image "
                         f"{_show(in_image)}")

    if m.get("image", image.name) != image.name:
        diffs.append(f"manifest.json describes `{m.get('image')}`, not `{image.name}`")
    differ("sha256", m.get("sha256"), sha)
    differ("size", m.get("size"), size)
    for key in ("app", "backend", "memory", "vcpus", "cmdline"):
        if key in note:
            differ(key, m.get(key), note[key])
    libs = m.get("libraries")
    names = [lib.get("name") for lib in libs if isinstance(lib, dict)] \
        if isinstance(libs, list) else libs
    differ("libraries", names, note["libraries"])
    if "params" in note and isinstance(libs, list):
        mparams = {f"{lib.get('name')}.{p.get('name')}": p.get("value")
                   for lib in libs if isinstance(lib, dict)
                   for p in (lib.get("params") or []) if isinstance(p, dict)}
        differ("parameters", dict(sorted(mparams.items())),
               dict(sorted(note["params"].items())) if isinstance(note["params"], dict)
               else note["params"])
    verdicts: dict[str, object] = {}
    for v in m.get("policies") or []:
        if isinstance(v, dict):
            verdicts.setdefault(str(v.get("name")), v.get("ok"))
    differ("policies", [{"name": n, "ok": ok} for n, ok in verdicts.items()],
           [{"name": v.get("name"), "ok": v.get("ok")} for v in note["policies"]
            if isinstance(v, dict)])
    for key in ("rules", "protections"):
        if key in note or key in m:
            differ(key, m.get(key), note.get(key))
    return tuple(diffs)


def _show(v: object) -> str:
    text = json.dumps(v, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= 200 else text[:197] + "..."


# ------------------------------------------------------------------ presenting



def as_json(info: ImageInfo) -> dict[str, Any]:
    return {
        "image": info.path,
        "size": info.size,
        "sha256": info.sha256,
        "manifest": None if info.differences is None else {
            "agrees": not info.differences, "differences": list(info.differences)},
        "note": info.note,
    }


def as_text(info: ImageInfo) -> str:
    n = info.note
    out = [f"image: {info.path}", f"  size: {info.size} bytes", f"  sha256: {info.sha256}"]
    if info.differences is None:
        out.append("  manifest.json: none beside the image")
    elif not info.differences:
        out.append("  manifest.json: agrees with the image (sha256, size and note)")
    else:
        out.append(f"  manifest.json: DISAGREES with the image ({len(info.differences)} "
                   "differences)")
        out += [f"    {d}" for d in info.differences]
    out.append("  the note is in the image, so the sha256 covers it")
    out += ["", f"app: {n['app']}", f"backend: {n['backend']}"]
    if "memory" in n:
        from .units import fmt_size

        mem = n["memory"]
        out.append(f"memory: {fmt_size(mem) if isinstance(mem, int) else mem}, "
                   f"vcpus: {n.get('vcpus')}")
    if n.get("cmdline"):
        out.append(f"cmdline: {json.dumps(n['cmdline'], ensure_ascii=False)}")
    out += ["", "libraries (init order):"] + [f"  {lib}" for lib in n["libraries"]]
    params = n.get("params")
    if isinstance(params, dict):
        out += ["", "parameters:"]
        out += [f"  {k} = {json.dumps(v, ensure_ascii=False)}"
                for k, v in params.items()] or ["  (none)"]
    out += ["", "policies:"]
    out += [f"  {v.get('name')}: {'pass' if v.get('ok') else 'FAIL'}"
            for v in n["policies"] if isinstance(v, dict)] or ["  (none applied)"]
    rules = n.get("rules")
    if isinstance(rules, dict):
        net = rules.get("network")
        out += ["", "run-time rules (network):"]
        if not isinstance(net, dict):
            out.append("  none: the image has no network stack")
        else:
            listen, peers = net.get("listen"), net.get("peers")
            out.append("  listen: " + ("any port" if listen is None
                                       else _items(listen) or "no port"))
            out.append("  peers: " + ("any address" if peers is None
                                      else _items(peers) or "no address"))
            out.append("  send: " + ("allowed" if net.get("send", True) else "refused"))
    prot = n.get("protections")
    if isinstance(prot, list):
        from .emit.note import PROTECTIONS

        out += ["", "protections:"]
        out += [f"  {p}: {PROTECTIONS.get(str(p), '(not known to this unilang)')}"
                for p in prot]
    # what the note says is shown, never acted on by a terminal (a forged note
    # may carry escape sequences in any string)
    from .render import visible

    return "".join(visible(line) + "\n" for line in out)


def _items(v: object) -> str:
    return ", ".join(map(str, v)) if isinstance(v, list) else str(v)
