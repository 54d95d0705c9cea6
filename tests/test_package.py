"""`unilang package`: the OCI image layout, checked with the real tools (skopeo,
umoci), its determinism, the output directory contract and its diagnostics.

hello is built once per backend for the module; every later run reuses the
up-to-date build."""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from support import ROOT, needs_tools, unilang

pytestmark = needs_tools

HELLO = ROOT / "examples" / "hello" / "hello.uni"
needs_skopeo = pytest.mark.skipif(shutil.which("skopeo") is None,
                                  reason="skopeo is needed (Debian: skopeo)")
needs_umoci = pytest.mark.skipif(shutil.which("umoci") is None,
                                 reason="umoci is needed (Debian: umoci)")
KVM_FILES = ["firecracker.json", "hello.elf", "libvirt.xml", "manifest.json", "qemu.json",
             "run-qemu.sh"]
XEN_FILES = ["hello.elf", "libvirt.xml", "manifest.json", "qemu.json", "run-qemu.sh", "xl.cfg"]


def package(*args: str, cwd: Path, env: dict[str, str] | None = None,
            ) -> subprocess.CompletedProcess[str]:
    full = dict(os.environ, NO_COLOR="1")
    full.pop("SOURCE_DATE_EPOCH", None)
    full.update(env or {})
    return unilang("package", *args, cwd=cwd, env=full)


def tool(*argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), cwd=cwd, capture_output=True, text=True, timeout=120,
                          check=False, stdin=subprocess.DEVNULL)


def digest_of(p: subprocess.CompletedProcess[str]) -> str:
    m = re.search(r"^digest: (sha256:[0-9a-f]{64})$", p.stdout, re.M)
    assert m, p.stdout + p.stderr
    return m.group(1)


def index(oci: Path) -> dict[str, dict[str, object]]:
    doc = json.loads((oci / "index.json").read_text())
    return {e["annotations"]["org.opencontainers.image.ref.name"]: e for e in doc["manifests"]}


def blob(oci: Path, digest: str) -> bytes:
    data = (oci / "blobs" / "sha256" / digest.split(":", 1)[1]).read_bytes()
    assert "sha256:" + hashlib.sha256(data).hexdigest() == digest
    return data


def image_of(oci: Path, ref: str) -> tuple[dict, dict, bytes]:
    """(manifest, config, layer bytes) of the image named ``ref``."""
    manifest = json.loads(blob(oci, str(index(oci)[ref]["digest"])))
    config = json.loads(blob(oci, manifest["config"]["digest"]))
    return manifest, config, blob(oci, manifest["layers"][0]["digest"])


def snapshot(d: Path) -> dict[str, tuple[int, int, bytes]]:
    return {str(p.relative_to(d)): (p.stat().st_ino, p.stat().st_mtime_ns, p.read_bytes())
            for p in sorted(d.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """hello packaged for kvm (default hypervisor) and xen into one layout `oci`."""
    d = tmp_path_factory.mktemp("package")
    for backend in ("kvm", "xen"):
        p = package(str(HELLO), "-b", backend, "--oci", "oci", "-o", backend, cwd=d)
        assert p.returncode == 0, p.stdout + p.stderr
        assert f"packaged: oci:oci:{backend} (hello, hypervisor " in p.stdout
        (d / f"{backend}.digest").write_text(digest_of(p))
    return d


def test_layout_holds_both_backends(work: Path) -> None:
    oci = work / "oci"
    assert (oci / "oci-layout").read_bytes() == b'{"imageLayoutVersion":"1.0.0"}\n'
    doc = json.loads((oci / "index.json").read_text())
    assert doc["schemaVersion"] == 2
    assert doc["mediaType"] == "application/vnd.oci.image.index.v1+json"
    names = [e["annotations"]["org.opencontainers.image.ref.name"] for e in doc["manifests"]]
    assert names == ["kvm", "xen"]
    for e in doc["manifests"]:
        assert e["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
        assert e["platform"] == {"architecture": "amd64", "os": "linux"}
    assert index(oci)["kvm"]["digest"] == (work / "kvm.digest").read_text()
    marker = json.loads((oci / ".unilang-output").read_text())
    assert marker["kind"] == "oci-layout"
    on_disk = sorted(str(p.relative_to(oci)) for p in oci.rglob("*")
                     if p.is_file() and p.name != ".unilang-output")
    assert marker["files"] == on_disk  # every file here is unilang's, and no more
    assert len([f for f in on_disk if f.startswith("blobs/")]) == 6


def test_manifest_config_and_annotations(work: Path) -> None:
    oci = work / "oci"
    build = json.loads((work / "kvm" / "manifest.json").read_text())
    manifest, config, layer = image_of(oci, "kvm")
    assert manifest["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
    assert manifest["config"]["mediaType"] == "application/vnd.oci.image.config.v1+json"
    assert manifest["layers"][0]["mediaType"] == "application/vnd.oci.image.layer.v1.tar+gzip"
    notes = manifest["annotations"]
    assert notes["com.urunc.unikernel.unikernelType"] == "unikraft"
    assert notes["com.urunc.unikernel.hypervisor"] == "qemu"
    assert notes["com.urunc.unikernel.binary"] == "/unikernel/hello.elf"
    assert notes["com.urunc.unikernel.cmdline"] == build["cmdline"]
    assert notes["org.opencontainers.image.title"] == "hello"
    assert notes["org.opencontainers.image.created"] == "1970-01-01T00:00:00Z"
    rev = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True,
                         text=True, check=False).stdout.strip()
    if rev:
        assert notes["org.opencontainers.image.revision"] == rev
    assert config["architecture"] == "amd64" and config["os"] == "linux"
    assert config["created"] == "1970-01-01T00:00:00Z"
    assert config["config"]["Labels"] == notes
    assert config["rootfs"] == {"type": "layers", "diff_ids": [
        "sha256:" + hashlib.sha256(gzip.decompress(layer)).hexdigest()]}
    xen = image_of(oci, "xen")[0]["annotations"]
    assert xen["com.urunc.unikernel.hypervisor"] == "xen"


def test_layer_is_deterministic(work: Path) -> None:
    _m, _c, layer = image_of(work / "oci", "kvm")
    assert layer[:4] == b"\x1f\x8b\x08\x00"       # gzip, deflate, no flags: no file name
    assert layer[4:8] == b"\0\0\0\0"               # mtime 0
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(layer))) as tar:
        members = tar.getmembers()
        names = [m.name for m in members]
        assert names == ["unikernel"] + [f"unikernel/{n}" for n in KVM_FILES] + ["urunc.json"]
        for m in members:
            assert (m.uid, m.gid, m.uname, m.gname, m.mtime) == (0, 0, "", "", 0), m.name
        assert {m.name: m.mode for m in members}["unikernel/hello.elf"] == 0o755
        assert {m.name: m.mode for m in members}["unikernel/qemu.json"] == 0o644


@needs_skopeo
def test_skopeo_inspects_both_images(work: Path) -> None:
    for backend, hypervisor in (("kvm", "qemu"), ("xen", "xen")):
        p = tool("skopeo", "inspect", f"oci:oci:{backend}", cwd=work)
        assert p.returncode == 0, p.stderr
        doc = json.loads(p.stdout)
        assert doc["Digest"] == index(work / "oci")[backend]["digest"]
        assert doc["Architecture"] == "amd64" and doc["Os"] == "linux"
        assert doc["Created"] == "1970-01-01T00:00:00Z"
        assert doc["Labels"]["com.urunc.unikernel.hypervisor"] == hypervisor
        assert doc["Labels"]["com.urunc.unikernel.binary"] == "/unikernel/hello.elf"
        raw = tool("skopeo", "inspect", "--raw", f"oci:oci:{backend}", cwd=work)
        assert raw.stdout.encode() == blob(work / "oci", doc["Digest"])


@needs_skopeo
def test_skopeo_copies_to_an_archive(work: Path, tmp_path: Path) -> None:
    archive = tmp_path / "hello-kvm.tar"
    p = tool("skopeo", "copy", "oci:oci:kvm", f"oci-archive:{archive}", cwd=work)
    assert p.returncode == 0, p.stdout + p.stderr
    again = tool("skopeo", "inspect", f"oci-archive:{archive}", cwd=work)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["Digest"] == index(work / "oci")["kvm"]["digest"]


@needs_umoci
@pytest.mark.parametrize("backend,files", [("kvm", KVM_FILES), ("xen", XEN_FILES)])
def test_umoci_unpacks_the_build_outputs(work: Path, tmp_path: Path, backend: str,
                                         files: list[str]) -> None:
    bundle = tmp_path / "bundle"
    p = tool("umoci", "unpack", "--rootless", "--image", f"{work / 'oci'}:{backend}",
             str(bundle), cwd=tmp_path)
    assert p.returncode == 0, p.stdout + p.stderr
    rootfs = bundle / "rootfs"
    assert sorted(os.listdir(rootfs)) == ["unikernel", "urunc.json"]
    assert sorted(os.listdir(rootfs / "unikernel")) == files
    for f in files:  # byte for byte what the build wrote
        assert (rootfs / "unikernel" / f).read_bytes() == (work / backend / f).read_bytes(), f
    urunc = json.loads((rootfs / "urunc.json").read_text())
    decoded = {k: base64.b64decode(v).decode() for k, v in urunc.items()}
    assert decoded["com.urunc.unikernel.binary"] == "/unikernel/hello.elf"
    assert decoded["com.urunc.unikernel.hypervisor"] == ("qemu" if backend == "kvm" else "xen")
    assert decoded["com.urunc.unikernel.unikernelType"] == "unikraft"


def test_again_is_up_to_date_and_writes_nothing(work: Path) -> None:
    before = snapshot(work / "oci")
    p = package(str(HELLO), "-b", "kvm", "--oci", "oci", "-o", "kvm", cwd=work)
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith("up to date: oci:oci:kvm (hello, hypervisor qemu, layer ")
    assert digest_of(p) == (work / "kvm.digest").read_text()
    assert snapshot(work / "oci") == before


def _copy_checkout(dest: Path) -> None:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for d in ("unilang", "stdlib", "backends", "grammar"):
        shutil.copytree(ROOT / d, dest / d, ignore=ignore)
    shutil.copytree(ROOT / "examples" / "hello", dest / "examples" / "hello", ignore=ignore)


@pytest.mark.slow
def test_two_checkouts_give_the_same_digest(tmp_path: Path) -> None:
    digests = []
    for where in (tmp_path / "a", tmp_path / "somewhere" / "much" / "deeper" / "b"):
        _copy_checkout(where)
        p = package("examples/hello/hello.uni", "-b", "kvm", "--oci", "out/oci", cwd=where,
                    env={"PYTHONPATH": str(where)})
        assert p.returncode == 0, p.stdout + p.stderr
        assert str(where) not in (where / "out" / "oci" / "index.json").read_text()
        digests.append((digest_of(p), sorted(os.listdir(where / "out" / "oci" / "blobs" / "sha256"))))
    assert digests[0] == digests[1]


def test_source_date_epoch_and_a_plain_tar(work: Path, tmp_path: Path) -> None:
    oci = tmp_path / "oci"
    p = package(str(HELLO), "-b", "kvm", "--oci", str(oci), "-o", "kvm", "--compression",
                "none", "--revision", "v1.2", cwd=work, env={"SOURCE_DATE_EPOCH": "1700000000"})
    assert p.returncode == 0, p.stdout + p.stderr
    manifest, config, layer = image_of(oci, "kvm")
    assert manifest["layers"][0]["mediaType"] == "application/vnd.oci.image.layer.v1.tar"
    assert config["rootfs"]["diff_ids"] == [manifest["layers"][0]["digest"]]
    assert config["created"] == "2023-11-14T22:13:20Z"
    assert manifest["annotations"]["org.opencontainers.image.created"] == "2023-11-14T22:13:20Z"
    assert manifest["annotations"]["org.opencontainers.image.revision"] == "v1.2"
    with tarfile.open(fileobj=io.BytesIO(layer)) as tar:
        assert {m.mtime for m in tar.getmembers()} == {1700000000}


@needs_skopeo
def test_repackaging_keeps_what_others_use(work: Path, tmp_path: Path) -> None:
    """firecracker replaces the kvm image; blobs still used by an image another
    tool added, and files unilang did not write, are kept; the rest go."""
    oci = tmp_path / "oci"
    shutil.copytree(work / "oci", oci)
    old = image_of(oci, "kvm")
    p = tool("skopeo", "copy", f"oci:{oci}:kvm", f"oci:{oci}:pinned", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    note = oci / "blobs" / "sha256" / "notes.txt"
    note.write_text("mine\n")
    p = package(str(HELLO), "-b", "kvm", "--oci", str(oci), "-o", "kvm", "--hypervisor",
                "firecracker", cwd=work)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "hypervisor firecracker" in p.stdout
    assert sorted(index(oci)) == ["kvm", "pinned", "xen"]
    assert image_of(oci, "kvm")[0]["annotations"]["com.urunc.unikernel.hypervisor"] == \
        "firecracker"
    assert image_of(oci, "pinned")[2] == old[2]  # the old layer, still there for `pinned`
    assert index(oci)["xen"] == index(work / "oci")["xen"]
    assert note.read_text() == "mine\n"
    firecracker = image_of(oci, "kvm")[0]
    # back to qemu without the other image: the firecracker image's blobs are unused
    # and unilang's, so they go
    doc = json.loads((oci / "index.json").read_text())
    doc["manifests"] = [e for e in doc["manifests"]
                        if e["annotations"]["org.opencontainers.image.ref.name"] != "pinned"]
    (oci / "index.json").write_text(json.dumps(doc))
    p = package(str(HELLO), "-b", "kvm", "--oci", str(oci), "-o", "kvm", cwd=work)
    assert p.returncode == 0, p.stdout + p.stderr
    blobs = set(os.listdir(oci / "blobs" / "sha256"))
    assert firecracker["config"]["digest"].split(":")[1] not in blobs
    assert firecracker["layers"][0]["digest"].split(":")[1] not in blobs
    assert image_of(oci, "kvm") == old
    assert "notes.txt" in blobs and len(blobs) == 7
    assert tool("skopeo", "inspect", f"oci:{oci}:kvm", cwd=tmp_path).returncode == 0


def test_refuses_a_foreign_directory(work: Path, tmp_path: Path) -> None:
    keep = tmp_path / "keep"
    keep.mkdir()
    (keep / "notes.txt").write_text("x")
    p = package(str(HELLO), "-b", "kvm", "--oci", str(keep), "-o", "kvm", cwd=work)
    assert p.returncode == 1
    assert f"error[U0223]: `{keep}` is not empty and is not an OCI layout unilang wrote" \
        in p.stderr
    assert "= note: it holds `notes.txt`" in p.stderr
    assert os.listdir(keep) == ["notes.txt"]
    p = package(str(HELLO), "-b", "kvm", "--oci", "xen", "-o", "kvm", cwd=work)
    assert p.returncode == 1
    assert "error[U0223]: `xen` is a build output directory, not an OCI layout unilang wrote" \
        in p.stderr
    p = package(str(HELLO), "-b", "kvm", "--oci", "kvm", "-o", "kvm", cwd=work)
    assert "error[U0223]: `kvm` is also the build's output directory" in p.stderr


def test_refuses_a_hypervisor_the_backend_lacks(work: Path, tmp_path: Path) -> None:
    for backend, hypervisor, booted in (("xen", "firecracker", "`xen`"),
                                        ("kvm", "xen", "`qemu`, `firecracker`")):
        p = package(str(HELLO), "-b", backend, "--oci", str(tmp_path / "oci"), "--hypervisor",
                    hypervisor, cwd=work)
        assert p.returncode == 1
        assert f"error[U0224]: `--hypervisor {hypervisor}` cannot boot a {backend} image" \
            in p.stderr
        assert f"= note: backend {backend} is booted by {booted}" in p.stderr
    p = package(str(HELLO), "--oci", str(tmp_path / "oci"), cwd=work,
                env={"SOURCE_DATE_EPOCH": "yesterday"})
    assert p.returncode == 1
    assert "error[U0224]: SOURCE_DATE_EPOCH is `yesterday`, not a number of seconds" in p.stderr
    p = package(str(HELLO), "--oci", str(tmp_path / "oci"), "--revision", "a b", cwd=work)
    assert "error[U0224]: `--revision 'a b'` is not a revision" in p.stderr
    assert not (tmp_path / "oci").exists()  # refused before anything was built or written


def test_refuses_a_damaged_index(work: Path, tmp_path: Path) -> None:
    oci = tmp_path / "oci"
    shutil.copytree(work / "oci", oci)
    (oci / "index.json").write_text("{not json")
    p = package(str(HELLO), "-b", "kvm", "--oci", str(oci), "-o", "kvm", cwd=work)
    assert p.returncode == 1
    assert f"error[U0225]: `{oci}/index.json` is damaged: not JSON" in p.stderr
    assert (oci / "index.json").read_text() == "{not json"


@pytest.mark.boot
@needs_umoci
@pytest.mark.skipif(shutil.which("qemu-system-x86_64") is None, reason="QEMU is needed")
def test_the_unpacked_image_boots_with_its_own_script(work: Path, tmp_path: Path) -> None:
    """What a runtime gets out of the image is bootable as it is: the packaged
    run-qemu.sh boots the packaged hello.elf from /unikernel."""
    bundle = tmp_path / "bundle"
    p = tool("umoci", "unpack", "--rootless", "--image", f"{work / 'oci'}:kvm", str(bundle),
             cwd=tmp_path)
    assert p.returncode == 0, p.stdout + p.stderr
    boot = subprocess.run(["sh", str(bundle / "rootfs" / "unikernel" / "run-qemu.sh")],
                          capture_output=True, text=True, timeout=300, check=False,
                          stdin=subprocess.DEVNULL)
    assert "Hello from unilang!" in boot.stdout, boot.stdout + boot.stderr
    assert boot.returncode == 1  # isa-debug-exit: (0 << 1) | 1, main returned 0


def test_nested_directories_and_leftovers(work: Path, tmp_path: Path) -> None:
    p = package(str(HELLO), "-b", "kvm", "--oci", "kvm/oci", "-o", "kvm", cwd=work)
    assert p.returncode == 1
    assert "error[U0223]: `kvm/oci` and the build's output directory `kvm` are inside one " \
        "another" in p.stderr
    assert not (work / "kvm" / "oci").exists()
    # a first run that died before its marker was written left only a temporary
    oci = tmp_path / "oci"
    oci.mkdir()
    (oci / ".unilang-tmp-abc123").write_bytes(b"partial")
    p = package(str(HELLO), "-b", "kvm", "--oci", str(oci), "-o", "kvm", cwd=work)
    assert p.returncode == 0, p.stdout + p.stderr
    assert not (oci / ".unilang-tmp-abc123").exists()
    assert index(oci)["kvm"]["digest"] == (work / "kvm.digest").read_text()


def test_the_default_unikernel_type_is_one_value() -> None:
    from unilang.cli import main
    from unilang.emit.oci import DEFAULT_UNIKERNEL_TYPE

    option = next(p for p in main.commands["package"].params if p.name == "unikernel_type")
    assert option.default == DEFAULT_UNIKERNEL_TYPE


@needs_skopeo
def test_cmdline_is_escaped_for_every_format(tmp_path: Path) -> None:
    cmdline = 'quiet msg="caf\u00e9 $HOME" path=C:\\tmp <&>'
    (tmp_path / "hello.c").write_text((ROOT / "examples" / "hello" / "hello.c").read_text())
    (tmp_path / "esc.uni").write_text(
        'app esc {\n    sources = ["hello.c"];\n    requires = [console.lines];\n'
        '    memory = 16 MiB;\n    cmdline = "quiet msg=\\"caf\\u{e9} $HOME\\" '
        'path=C:\\\\tmp <&>";\n}\n', encoding="utf-8")
    p = package("esc.uni", "--oci", "oci", cwd=tmp_path)
    assert p.returncode == 0, p.stdout + p.stderr
    assert json.loads((tmp_path / "build" / "esc" / "kvm" / "manifest.json").read_text(
    ))["cmdline"] == cmdline
    labels = json.loads(tool("skopeo", "inspect", "oci:oci:kvm", cwd=tmp_path).stdout)["Labels"]
    assert labels["com.urunc.unikernel.cmdline"] == cmdline
    assert image_of(tmp_path / "oci", "kvm")[0]["annotations"][
        "com.urunc.unikernel.cmdline"] == cmdline
    layer = gzip.decompress(image_of(tmp_path / "oci", "kvm")[2])
    with tarfile.open(fileobj=io.BytesIO(layer)) as tar:
        urunc = json.loads(tar.extractfile("urunc.json").read())  # type: ignore[union-attr]
    assert base64.b64decode(urunc["com.urunc.unikernel.cmdline"]).decode() == cmdline


def test_an_entry_it_cannot_follow_stops_every_deletion(work: Path, tmp_path: Path) -> None:
    """An index entry of a kind unilang does not know might use any blob: then
    no blob is deleted, not even unilang's own unused ones."""
    oci = tmp_path / "oci"
    shutil.copytree(work / "oci", oci)
    before = set(os.listdir(oci / "blobs" / "sha256"))
    doc = json.loads((oci / "index.json").read_text())
    strange = {"mediaType": "application/vnd.example.thing", "digest": "sha256:" + "0" * 64,
               "size": 1, "annotations": {"org.opencontainers.image.ref.name": "thing"}}
    doc["manifests"].append(strange)
    (oci / "index.json").write_text(json.dumps(doc))
    p = package(str(HELLO), "-b", "kvm", "--oci", str(oci), "-o", "kvm", "--hypervisor",
                "firecracker", cwd=work)
    assert p.returncode == 0, p.stdout + p.stderr
    after = set(os.listdir(oci / "blobs" / "sha256"))
    assert before < after and len(after) == len(before) + 3  # kept all, added the new image
    assert strange in json.loads((oci / "index.json").read_text())["manifests"]


def test_one_packaging_of_a_directory_at_a_time(work: Path, tmp_path: Path) -> None:
    """While another holds the layout's lock, package waits, says so and writes nothing."""
    import fcntl
    import sys
    import threading
    import time

    oci = tmp_path / "oci"
    env = dict(os.environ, NO_COLOR="1")
    env.pop("SOURCE_DATE_EPOCH", None)
    lines: list[str] = []
    with open(tmp_path / ".oci.lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        proc = subprocess.Popen([sys.executable, "-m", "unilang", "package", str(HELLO),
                                 "--oci", str(oci), "-o", "kvm"], cwd=work, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert proc.stderr is not None
        reader = threading.Thread(target=lambda: lines.extend(proc.stderr), daemon=True)
        reader.start()
        try:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and proc.poll() is None \
                    and not any("waiting for another build" in l for l in lines):
                time.sleep(0.1)
            assert f"waiting for another build of `{oci}` to finish (lock .oci.lock)\n" in lines
            assert proc.poll() is None and not oci.exists()
        finally:
            fcntl.flock(held, fcntl.LOCK_UN)
        proc.wait(timeout=120)  # stdout is two lines: the pipe cannot fill
        assert proc.stdout is not None
        out = proc.stdout.read()
        reader.join(timeout=10)
    assert proc.returncode == 0, out + "".join(lines)
    assert index(oci)["kvm"]["digest"] == (work / "kvm.digest").read_text()
