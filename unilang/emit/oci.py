"""An OCI image of a built unikernel, as bytes: layer, config, manifest, index.

Pure: given the build's outputs and a few facts, the same bytes every time
and everywhere.  Writing them into an image layout directory is
``unilang.package``'s job.

The one layer is a tar (gzip-compressed unless asked not to) holding::

    unikernel/                  directory, 0755
    unikernel/<app>.elf         the image, byte for byte the build's
    unikernel/manifest.json     the build's manifest
    unikernel/<config>          every configuration the backend emits
    urunc.json                  urunc's annotations, base64 (for runtimes that
                                do not pass image annotations on, e.g. Docker)

Every entry has uid/gid 0, no user or group names, the same mtime (the
``created`` time) and comes in sorted order; gzip is written with mtime 0,
no file name and a fixed level, so the layer's digest depends only on the
files.  (gzip's bytes are zlib's deflate output: another zlib, such as
zlib-ng, may compress differently; ``compression="none"`` is reproducible
everywhere.)
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import tarfile
from datetime import datetime, timezone

import attrs

MEDIA_INDEX = "application/vnd.oci.image.index.v1+json"
MEDIA_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MEDIA_CONFIG = "application/vnd.oci.image.config.v1+json"
MEDIA_LAYER = {"gzip": "application/vnd.oci.image.layer.v1.tar+gzip",
               "none": "application/vnd.oci.image.layer.v1.tar"}
COMPRESSIONS = tuple(MEDIA_LAYER)
#: Docker's manifest types: an index a registry tool wrote may list them
MEDIA_DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
MEDIA_DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"

REF_NAME = "org.opencontainers.image.ref.name"
ROOTFS_DIR = "unikernel"          # /unikernel/ in the container's root filesystem
URUNC_JSON = "urunc.json"         # /urunc.json
OCI_LAYOUT = b'{"imageLayoutVersion":"1.0.0"}\n'
ARCHITECTURE, OS = "amd64", "linux"
GZIP_LEVEL = 9
#: urunc knows no unilang type; its `unikraft` handling boots a PVH/multiboot
#: kernel with `-kernel` (QEMU) or as Firecracker's kernel, which is what a
#: unilang image needs (docs/deploy.md)
DEFAULT_UNIKERNEL_TYPE = "unikraft"

U_TYPE = "com.urunc.unikernel.unikernelType"
U_HYPERVISOR = "com.urunc.unikernel.hypervisor"
U_BINARY = "com.urunc.unikernel.binary"
U_CMDLINE = "com.urunc.unikernel.cmdline"


@attrs.frozen
class ImageFacts:
    """What one image is made of."""

    app: str
    backend: str
    hypervisor: str
    unikernel_type: str
    cmdline: str
    image_name: str                              # <app>.elf
    files: tuple[tuple[str, bytes, int], ...]    # (name in /unikernel, bytes, mode)
    epoch: int                                   # created, and every mtime in the layer
    revision: str | None = None
    compression: str = "gzip"


@attrs.frozen
class Blob:
    media_type: str
    data: bytes

    @property
    def digest(self) -> str:
        return "sha256:" + hashlib.sha256(self.data).hexdigest()

    def descriptor(self) -> dict[str, object]:
        return {"mediaType": self.media_type, "digest": self.digest, "size": len(self.data)}


@attrs.frozen
class Image:
    manifest: Blob
    config: Blob
    layer: Blob
    diff_id: str
    annotations: dict[str, str]

    def blobs(self) -> list[Blob]:
        return [self.layer, self.config, self.manifest]

    def index_entry(self, ref: str) -> dict[str, object]:
        """This image's descriptor in an image index, named ``ref``."""
        return {**self.manifest.descriptor(),
                "annotations": {REF_NAME: ref},
                "platform": {"architecture": ARCHITECTURE, "os": OS}}


def canonical_json(doc: object) -> bytes:
    """Sorted keys, no whitespace, UTF-8: one byte string per document."""
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def rfc3339(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def binary_path(facts: ImageFacts) -> str:
    return f"/{ROOTFS_DIR}/{facts.image_name}"


def annotations(facts: ImageFacts) -> dict[str, str]:
    """The manifest's annotations (and the config's labels)."""
    out = {
        U_TYPE: facts.unikernel_type,
        U_HYPERVISOR: facts.hypervisor,
        U_BINARY: binary_path(facts),
        U_CMDLINE: facts.cmdline,
        "org.opencontainers.image.title": facts.app,
        "org.opencontainers.image.created": rfc3339(facts.epoch),
        "org.opencontainers.image.description":
            f"unilang unikernel `{facts.app}` for the {facts.backend} backend",
        "dev.unilang.backend": facts.backend,
    }
    if facts.revision is not None:
        out["org.opencontainers.image.revision"] = facts.revision
    return out


def urunc_json(facts: ImageFacts) -> bytes:
    """urunc's annotations as its `urunc.json` file: each value base64-encoded."""
    doc = {k: base64.b64encode(v.encode()).decode("ascii")
           for k, v in annotations(facts).items() if k.startswith("com.urunc.")}
    return (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode()


def _entry(name: str, epoch: int, mode: int, size: int = 0, directory: bool = False) -> tarfile.TarInfo:
    ti = tarfile.TarInfo(name)
    ti.type = tarfile.DIRTYPE if directory else tarfile.REGTYPE
    ti.mode = mode
    ti.size = size
    ti.mtime = epoch
    ti.uid = ti.gid = 0
    ti.uname = ti.gname = ""
    return ti


def layer_tar(facts: ImageFacts) -> bytes:
    """The uncompressed layer: fixed owners and mtimes, sorted entries."""
    members: list[tuple[str, bytes | None, int]] = [(f"{ROOTFS_DIR}/", None, 0o755)]
    members += [(f"{ROOTFS_DIR}/{n}", data, mode) for n, data, mode in facts.files]
    members.append((URUNC_JSON, urunc_json(facts), 0o644))
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data, mode in sorted(members, key=lambda m: m[0]):
            if data is None:
                tar.addfile(_entry(name.rstrip("/"), facts.epoch, mode, directory=True))
            else:
                tar.addfile(_entry(name, facts.epoch, mode, len(data)), io.BytesIO(data))
    return buf.getvalue()


def gzip_bytes(data: bytes) -> bytes:
    """gzip with mtime 0, no file name, a fixed level."""
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0,
                       compresslevel=GZIP_LEVEL) as gz:
        gz.write(data)
    return buf.getvalue()


def image(facts: ImageFacts) -> Image:
    tar = layer_tar(facts)
    diff_id = "sha256:" + hashlib.sha256(tar).hexdigest()
    layer = Blob(MEDIA_LAYER[facts.compression],
                 gzip_bytes(tar) if facts.compression == "gzip" else tar)
    notes = annotations(facts)
    created = rfc3339(facts.epoch)
    config = Blob(MEDIA_CONFIG, canonical_json({
        "created": created,
        "architecture": ARCHITECTURE,
        "os": OS,
        "config": {"Labels": notes},
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [{"created": created,
                     "created_by": f"unilang package -b {facts.backend} "
                                   f"--hypervisor {facts.hypervisor}"}],
    }))
    manifest = Blob(MEDIA_MANIFEST, canonical_json({
        "schemaVersion": 2,
        "mediaType": MEDIA_MANIFEST,
        "config": config.descriptor(),
        "layers": [layer.descriptor()],
        "annotations": notes,
    }))
    return Image(manifest, config, layer, diff_id, notes)


def index_bytes(entries: list[dict[str, object]]) -> bytes:
    """index.json: the entries sorted by their name, then digest."""
    def key(e: dict[str, object]) -> tuple[str, str]:
        notes = e.get("annotations")
        name = notes.get(REF_NAME, "") if isinstance(notes, dict) else ""
        return (str(name), str(e.get("digest", "")))

    doc = {"schemaVersion": 2, "mediaType": MEDIA_INDEX, "manifests": sorted(entries, key=key)}
    return (json.dumps(doc, indent=2, ensure_ascii=False) + "\n").encode()
