"""`unilang package`: a built image -> an OCI image layout directory.

The spec is built for the backend as `unilang build` would (an up-to-date
build is reused), its image, manifest and hypervisor configurations are read
back under the build's lock, and ``unilang.emit.oci`` turns them into a
layer, a config and a manifest.  They are written into ``DIR`` as an OCI
image layout (``oci-layout``, ``index.json``, ``blobs/sha256/``) whose index
names the image by the backend, so that ``oci:DIR:kvm`` refers to it;
packaging another backend into the same ``DIR`` adds it to the same index.

``DIR`` follows the output directory contract of builds (``unilang.outdir``):
unilang writes only into a directory that is new, empty or marked as its own
OCI layout by ``.unilang-output`` (``"kind": "oci-layout"``, and the files it
wrote there); any other directory is refused (U0223).  It deletes only blobs
it wrote that no image in the index refers to any more; index entries and
files it did not write (another tool's images, a note) are kept.  Every file
is written whole through a temporary file and a rename, the marker first (so
a crash leaves a directory still recognisably unilang's), the index after
the blobs it names.  Packaging into one ``DIR`` is serialised by the lock
``.DIR.lock`` beside it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path
from typing import IO, TYPE_CHECKING

import attrs

from .diagnostics import error
from .emit import oci
from .fresh import MARKER
from .fsutil import atomic_write, read_regular
from .outdir import OutputDir, read_marker

if TYPE_CHECKING:
    from .backend import Backend
    from .build import BuildResult
    from .driver import Session

KIND = "oci-layout"
TMP_PREFIX = ".unilang-tmp-"
LAYOUT = "oci-layout"
INDEX = "index.json"
BLOBS = "blobs/sha256"
MAX_JSON = 16 << 20
MAX_EPOCH = 253402300799  # 9999-12-31T23:59:59Z
_HEX = re.compile(r"[0-9a-f]{64}\Z")
_TYPE = re.compile(r"[a-z][a-z0-9_-]{0,31}\Z")
_REVISION = re.compile(r"[\x21-\x7e]{1,256}\Z")


class Refused(Exception):
    """Packaging cannot go on; ``code`` says why (U0223-U0226)."""

    def __init__(self, code: str, message: str, notes: tuple[str, ...] = (),
                 help: str | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.notes, self.help = code, message, notes, help


@attrs.frozen
class Options:
    hypervisor: str | None = None          # None: the backend's default
    revision: str | None = None            # None: the spec's git HEAD, if any
    unikernel_type: str = oci.DEFAULT_UNIKERNEL_TYPE
    compression: str = "gzip"
    source_date_epoch: str | None = None   # $SOURCE_DATE_EPOCH


@attrs.frozen
class PackageResult:
    oci: Path
    ref: str
    app: str
    digest: str
    layer_size: int
    hypervisor: str
    changed: bool


# ---------------------------------------------------------------- options
def parse_epoch(raw: str | None) -> int:
    """$SOURCE_DATE_EPOCH: unset or empty is 0 (1970-01-01T00:00:00Z)."""
    if raw is None or raw == "":
        return 0
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 12 or int(raw) > MAX_EPOCH:
        raise Refused("U0224", f"SOURCE_DATE_EPOCH is `{raw}`, not a number of seconds "
                      f"from 0 to {MAX_EPOCH}",
                      help="set it to a whole number of seconds since 1970-01-01 UTC "
                           "(e.g. `git log -1 --format=%ct`), or unset it")
    return int(raw)


def choose_hypervisor(platform: Backend, wanted: str | None) -> str:
    allowed = platform.hypervisors
    if not allowed:
        raise Refused("U0224", f"backend `{platform.name}` does not say which hypervisors boot "
                      "its images, so it cannot be packaged",
                      help=f"add `[oci] hypervisors = [...]` to backends/{platform.name}/"
                           "backend.toml, the default first")
    if wanted is None:
        return allowed[0]
    if wanted not in allowed:
        listed = ", ".join(f"`{h}`" for h in allowed)
        raise Refused("U0224", f"`--hypervisor {wanted}` cannot boot a {platform.name} image",
                      notes=(f"backend {platform.name} is booted by {listed}",),
                      help=f"use {'one of ' if len(allowed) > 1 else ''}{listed}, or leave "
                           f"`--hypervisor` out for `{allowed[0]}`")
    return wanted


def check_options(options: Options) -> None:
    if not _TYPE.match(options.unikernel_type):
        raise Refused("U0224", f"`--unikernel-type {options.unikernel_type}` is not a type "
                      "name (a lower case letter, then letters, digits, `-` or `_`; at most "
                      "32)", help=f"leave it out for `{oci.DEFAULT_UNIKERNEL_TYPE}`")
    if options.revision is not None and not _REVISION.match(options.revision):
        raise Refused("U0224", f"`--revision {options.revision!r}` is not a revision (1 to "
                      "256 printable ASCII characters, no spaces)",
                      help="give a commit id or a tag, or leave it out to use the spec's "
                           "git HEAD")
    if options.compression not in oci.COMPRESSIONS:
        raise Refused("U0224", f"`--compression {options.compression}` is not one of "
                      + ", ".join(oci.COMPRESSIONS))


def git_revision(directory: Path) -> str | None:
    """The commit checked out where the spec is, or None (no git, no repository)."""
    git = shutil.which("git")
    if git is None:
        return None
    try:
        proc = subprocess.run([git, "-C", str(directory), "rev-parse", "--verify", "--quiet",
                               "HEAD^{commit}"], capture_output=True, text=True,
                              errors="replace", stdin=subprocess.DEVNULL, timeout=30,
                              check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    rev = proc.stdout.strip()
    return rev if proc.returncode == 0 and re.fullmatch(r"[0-9a-f]{40}|[0-9a-f]{64}", rev) \
        else None


# ---------------------------------------------------------------- the build's outputs
def read_outputs(result: BuildResult, platform: Backend,
                 log: IO[str]) -> tuple[dict[str, object], list[tuple[str, bytes, int]]]:
    """The image, manifest.json and configurations, read under the build's lock
    (never half of one publish and half of the next), checked against each other."""
    image_name = str(result.manifest.get("image", ""))
    names = [image_name, "manifest.json", *platform.emits]
    out = OutputDir(result.outdir)
    files = []
    try:
        with out.lock(log):
            for n in names:
                p = result.outdir / n
                data = read_regular(p, nofollow=True)
                files.append((n, data, os.stat(p).st_mode & 0o755))
    except OSError as exc:
        raise Refused("U0226", f"cannot read the build output `{result.outdir}`: "
                      f"{exc.strerror or exc}" + (f" (`{exc.filename}`)" if exc.filename else ""),
                      help="build again (`unilang build`), then package") from None
    by_name = {n: d for n, d, _m in files}
    try:
        manifest = json.loads(by_name["manifest.json"])
    except ValueError:
        manifest = None
    sha = hashlib.sha256(by_name[image_name]).hexdigest()
    if not isinstance(manifest, dict) or manifest.get("sha256") != sha \
            or result.manifest.get("sha256") != sha:
        raise Refused("U0226", f"the image in `{result.outdir}` does not match its "
                      "manifest.json", notes=("another build may have replaced it meanwhile",),
                      help="package again")
    return manifest, files


# ---------------------------------------------------------------- the layout directory
def _is_dir(path: Path) -> bool | None:
    """True for a real directory, False for anything else, None when absent."""
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except FileNotFoundError:
        return None


def _digest_of(rel: str) -> str:
    return "sha256:" + rel.rsplit("/", 1)[1]


def _rel_of(digest: str) -> str | None:
    algo, _, hexpart = digest.partition(":")
    return f"{BLOBS}/{hexpart}" if algo == "sha256" and _HEX.match(hexpart) else None


class Layout:
    """One OCI image layout directory, as the user named it and as it is."""

    def __init__(self, given: Path) -> None:
        self.shown = given
        self.path = Path(os.path.realpath(given))
        self.out = OutputDir(given)  # its lock, beside it: .DIR.lock

    def refuse(self, message: str, notes: tuple[str, ...] = (), help: str | None = None) -> Refused:
        return Refused("U0223", message, notes, help)

    def owned(self) -> set[str] | None:
        """The files unilang wrote here, by the marker; None if it is not its layout."""
        try:
            doc = json.loads(read_regular(self.path / MARKER, 1 << 24, nofollow=True))
        except (OSError, ValueError):
            return None
        files = read_marker(self.path)
        if files is None or not isinstance(doc, dict) or doc.get("kind") != KIND:
            return None
        return set(files)

    def check(self, spec: Path, build_dir: Path | None) -> set[str]:
        """Raise ``Refused`` unless unilang may write here; the files it owns."""
        shown = self.shown
        help_new = "name a new or empty directory, e.g. `--oci build/oci`"
        if self.path.name in ("", ".", ".."):
            raise self.refuse(f"`{shown}` cannot be an OCI layout directory", help=help_new)
        if self.path == Path(os.path.realpath(spec)).parent:
            raise self.refuse(f"`{shown}` is the spec's own folder; packaging does not write "
                              "there", help=help_new)
        if self.path == Path(os.path.realpath(os.getcwd())):
            raise self.refuse(f"`{shown}` is the current directory; packaging does not write "
                              "there", help=help_new)
        if build_dir is not None:
            build = Path(os.path.realpath(build_dir))
            if self.path == build:
                raise self.refuse(f"`{shown}` is also the build's output directory",
                                  help="give `--oci` and `-o` different directories")
            if build in self.path.parents or self.path in build.parents:
                raise self.refuse(f"`{shown}` and the build's output directory `{build_dir}` "
                                  "are inside one another",
                                  help="give `--oci` and `-o` directories side by side")
        kind = _is_dir(self.path)
        if kind is None:
            return set()
        if not kind:
            raise self.refuse(f"`{shown}` exists and is not a directory", help=help_new)
        try:
            entries = sorted(os.listdir(self.path))
        except OSError as exc:
            raise self.refuse(f"cannot list `{shown}`: {exc.strerror or exc}") from None
        if all(n.startswith(TMP_PREFIX) for n in entries):
            return set()  # empty, or a first run that died before its marker was in place
        owned = self.owned()
        if owned is None:
            if read_marker(self.path) is not None:
                raise self.refuse(f"`{shown}` is a build output directory, not an OCI layout "
                                  "unilang wrote", help=help_new)
            listed = ", ".join(f"`{n}`" for n in entries[:5]) + (" ..." if len(entries) > 5 else "")
            raise self.refuse(f"`{shown}` is not empty and is not an OCI layout unilang wrote",
                              notes=(f"it holds {listed}",),
                              help=f"{help_new}; unilang marks the layouts it writes with a "
                                   f"`{MARKER}` file and never writes into other directories")
        for d in ("blobs", BLOBS):
            if _is_dir(self.path / d) is False:
                raise self.refuse(f"`{shown}` holds `{d}`, which is not a directory",
                                  help="move it away; unilang does not write through it")
        return owned

    def recover(self) -> None:
        """Under the lock: remove the temporaries an interrupted run left."""
        for d in (self.path, self.path / BLOBS):
            try:
                names = os.listdir(d)
            except OSError:
                continue
            for n in names:
                if n.startswith(TMP_PREFIX) and not _is_dir(d / n):
                    try:
                        os.unlink(d / n)
                    except OSError:
                        pass

    def read_index(self) -> list[dict[str, object]]:
        """The entries of index.json (none when it is absent); U0225 when damaged."""
        p = self.path / INDEX
        if not os.path.lexists(p):
            return []
        why = None
        try:
            doc = json.loads(read_regular(p, MAX_JSON, nofollow=True))
        except OSError as exc:
            why = exc.strerror or str(exc)
        except ValueError as exc:
            why = f"not JSON: {exc}"
        else:
            if not isinstance(doc, dict) or doc.get("schemaVersion") != 2:
                why = "not an image index (schemaVersion 2)"
            elif not isinstance(doc.get("manifests"), list) or not all(
                    isinstance(e, dict) and isinstance(e.get("digest"), str)
                    for e in doc["manifests"]):
                why = "`manifests` is not a list of descriptors"
        if why is not None:
            raise Refused("U0225", f"`{self.shown}/{INDEX}` is damaged: {why}",
                          help="repair or remove it; unilang keeps the images an index lists "
                               "and will not guess")
        return list(doc["manifests"])

    def blob(self, digest: str, extra: dict[str, bytes]) -> bytes | None:
        if digest in extra:
            return extra[digest]
        rel = _rel_of(digest)
        if rel is None:
            return None
        try:
            return read_regular(self.path / rel, MAX_JSON, nofollow=True)
        except OSError:
            return None

    def referenced(self, entries: list[dict[str, object]], extra: dict[str, bytes]) -> set[str] | None:
        """Every blob the index's images use; None when one cannot be followed
        (then nothing is deleted)."""
        seen: set[str] = set()
        todo: list[tuple[object, int]] = [(e, 0) for e in entries]
        while todo:
            desc, depth = todo.pop()
            if not isinstance(desc, dict) or not isinstance(desc.get("digest"), str) \
                    or depth > 8:
                return None
            digest = str(desc["digest"])
            if digest in seen:
                continue
            seen.add(digest)
            media = desc.get("mediaType")
            if media in (oci.MEDIA_MANIFEST, oci.MEDIA_DOCKER_MANIFEST, oci.MEDIA_INDEX,
                         oci.MEDIA_DOCKER_LIST):
                data = self.blob(digest, extra)
                try:
                    doc = json.loads(data) if data is not None else None
                except ValueError:
                    doc = None
                if not isinstance(doc, dict):
                    return None
                if media in (oci.MEDIA_INDEX, oci.MEDIA_DOCKER_LIST):
                    children = doc.get("manifests")
                else:
                    children = [doc.get("config"), *(doc.get("layers") or [])]
                if not isinstance(children, list):
                    return None
                todo += [(c, depth + 1) for c in children]
            elif depth == 0:
                return None  # an index entry of a kind unilang does not know
        return seen

    def _write(self, rel: str, data: bytes) -> None:
        atomic_write(self.path / rel, data, 0o644, durable=True, dir_mode=0o755,
                     prefix=TMP_PREFIX)

    def _marker(self, files: set[str]) -> None:
        doc = {"unilang-output": 1, "kind": KIND, "files": sorted(files),
               "note": "this OCI image layout is written by unilang; files not listed here "
                       "are kept"}
        self._write(MARKER, (json.dumps(doc, indent=2) + "\n").encode())

    def _state(self, rel: str, data: bytes, owned: set[str]) -> str:
        """"same", "write" (absent, or ours and different); refuses a foreign one."""
        p = self.path / rel
        try:
            st = os.lstat(p)
        except FileNotFoundError:
            return "write"
        if not stat.S_ISREG(st.st_mode):
            raise self.refuse(f"`{self.shown}` holds `{rel}`, which is not a regular file",
                              help="move it away; unilang does not replace what it did not write")
        try:
            same = st.st_size == len(data) and read_regular(p, len(data), nofollow=True) == data
        except OSError:
            same = False
        if same:
            return "same"
        if rel in owned or rel == INDEX:
            return "write"
        raise self.refuse(f"`{self.shown}` holds `{rel}`, which unilang did not write, with "
                          "other contents", help="move it away, or package into another "
                                                 "directory")

    def write(self, image: oci.Image, ref: str, owned: set[str]) -> bool:
        """Add (or replace) ``ref`` in the layout; False when it already was so."""
        entries = [e for e in self.read_index() if _ref_name(e) != ref]
        entries.append(image.index_entry(ref))
        index = oci.index_bytes(entries)
        plan: list[tuple[str, bytes]] = []
        claims = {LAYOUT, INDEX}
        for rel, data in [(LAYOUT, oci.OCI_LAYOUT),
                          *[(f"{BLOBS}/{b.digest.split(':', 1)[1]}", b.data)
                            for b in image.blobs()]]:
            state = self._state(rel, data, owned)
            if state == "write" or rel in owned:
                claims.add(rel)
            if state == "write":
                plan.append((rel, data))
        index_changed = self._state(INDEX, index, owned) == "write"
        extra = {b.digest: b.data for b in image.blobs()}
        used = self.referenced(entries, extra)
        mine = owned | claims
        gone = set() if used is None else {
            r for r in mine if r.startswith(BLOBS + "/") and _digest_of(r) not in used}
        before = mine
        after = mine - gone
        if not plan and not index_changed and not gone and owned == after:
            return False
        self.path.mkdir(parents=True, exist_ok=True, mode=0o755)
        if owned != before:
            self._marker(before)  # first: a crash leaves every file here accounted for
        (self.path / BLOBS).mkdir(parents=True, exist_ok=True, mode=0o755)
        for rel, data in plan:
            self._write(rel, data)
        if index_changed:
            self._write(INDEX, index)
        for rel in sorted(gone):
            p = self.path / rel
            try:
                if stat.S_ISREG(os.lstat(p).st_mode):
                    os.unlink(p)
            except FileNotFoundError:
                pass
        if after != before:
            self._marker(after)
        return True


def _ref_name(entry: dict[str, object]) -> str | None:
    notes = entry.get("annotations")
    name = notes.get(oci.REF_NAME) if isinstance(notes, dict) else None
    return name if isinstance(name, str) else None


# ---------------------------------------------------------------- the stage
def package(spec: Path, backend: str, oci_dir: Path, outdir: Path | None = None,
            options: Options = Options(),
            log: IO[str] | None = None) -> tuple[Session, PackageResult | None]:
    """Build SPEC for BACKEND (or reuse its up-to-date build) and write its OCI
    image into ``oci_dir``; diagnostics go to the returned session's sink."""
    from .backend import BackendError, load as load_backend
    from .build import build
    from .driver import Session

    log = log or sys.stderr
    pre = Session()
    layout = Layout(oci_dir)

    def fail(session: Session, exc: Refused) -> tuple[Session, None]:
        session.sink.add(error(exc.code, exc.message, notes=exc.notes, help=exc.help))
        return session, None

    try:
        platform = load_backend(backend)
    except BackendError:
        platform = None  # the build says what is wrong with it (U0207)
    try:
        check_options(options)
        epoch = parse_epoch(options.source_date_epoch)
        hypervisor = choose_hypervisor(platform, options.hypervisor) \
            if platform is not None else ""
        layout.check(spec, outdir)  # refuse before building anything
    except Refused as exc:
        return fail(pre, exc)
    session, result = build(spec, backend, outdir, log)
    if result is None or platform is None:
        return session, None
    try:
        manifest, files = read_outputs(result, platform, log)
        app = str(manifest["app"])
        revision = options.revision if options.revision is not None \
            else git_revision(Path(os.path.realpath(spec)).parent)
        facts = oci.ImageFacts(
            app=app, backend=backend, hypervisor=hypervisor,
            unikernel_type=options.unikernel_type, cmdline=str(manifest.get("cmdline") or ""),
            image_name=str(manifest["image"]), files=tuple(sorted(files)), epoch=epoch,
            revision=revision, compression=options.compression)
        image = oci.image(facts)
        layout.check(spec, result.outdir)
        with layout.out.lock(log):
            owned = layout.check(spec, result.outdir)  # again, now that no one else writes
            layout.recover()
            changed = layout.write(image, backend, owned)
    except Refused as exc:
        return fail(session, exc)
    except OSError as exc:
        return fail(session, Refused(
            "U0226", f"cannot write the OCI layout `{oci_dir}`: {exc.strerror or exc}"
            + (f" (`{exc.filename}`)" if exc.filename else "")))
    return session, PackageResult(oci_dir, backend, app, image.manifest.digest,
                                  len(image.layer.data), hypervisor, changed)
