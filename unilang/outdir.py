"""The output directory contract: what unilang owns, the build lock, a crash-safe publish.

An output directory ``OUT`` is *owned* by unilang when it holds the marker
file ``.unilang-output`` (a JSON list of the files unilang wrote there).  A
build writes only into a directory that is new, empty or owned; it refuses
any other, the spec's own folder and the current directory.  Beside ``OUT``,
in its parent, unilang keeps (and only ever deletes) names derived from
``OUT``'s: the work tree ``.OUT.work``, the lock ``.OUT.lock`` and, for the
length of one publish, ``.OUT.new-*`` (and ``.OUT.old-*`` on filesystems
without atomic exchange).

Publishing is crash-safe: the new set of files is written to ``.OUT.new-*``
(marker first, every file synced), then exchanged with ``OUT`` in one
``renameat2(RENAME_EXCHANGE)``, so at every instant ``OUT`` is either the
complete old set or the complete new set.  Files in an owned ``OUT`` that
unilang did not write are carried over as hard links, never deleted.
Whatever a crash leaves behind is removed by the next build, under the lock.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import shutil
import stat
import tempfile
from pathlib import Path
from contextlib import contextmanager
from typing import IO, Callable, Iterator

from .fresh import MARKER, temporaries

Files = dict[str, tuple[bytes, int]]
Fault = Callable[[str], None]


class OutputRefused(Exception):
    """The output directory cannot be used; ``args = (message, notes, help)``."""

    def __init__(self, message: str, notes: tuple[str, ...] = (), help: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.notes = notes
        self.help = help


def _no_fault(_step: str) -> None:
    return None


def read_marker(directory: Path) -> list[str] | None:
    """The files unilang wrote in ``directory``, or None when it does not own it."""
    try:
        st = os.lstat(directory / MARKER)
        if not stat.S_ISREG(st.st_mode) or st.st_size > 1 << 20:
            return None
        doc = json.loads((directory / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not (isinstance(doc, dict) and doc.get("unilang-output") == 1
            and isinstance(doc.get("files"), list)
            and all(isinstance(n, str) for n in doc["files"])):
        return None
    return list(doc["files"])


def _marker_bytes(names: list[str]) -> bytes:
    doc = {"unilang-output": 1, "files": sorted(names),
           "note": "this directory is written by unilang; files not listed here are kept"}
    return (json.dumps(doc, indent=2) + "\n").encode()


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _write_synced(path: Path, data: bytes, mode: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    try:
        view = memoryview(data)
        while view:
            n = os.write(fd, view)
            view = view[n:]
        os.fchmod(fd, mode)
        os.fsync(fd)
    finally:
        os.close(fd)


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two directory entries; False where the system cannot."""
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p,
                          ctypes.c_uint]
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(b))


@contextmanager
def hold_lock(path: Path, log: IO[str], waiting: str) -> Iterator[int]:
    """Hold an exclusive flock on ``path`` (created if needed) for the duration,
    writing ``waiting`` to ``log`` first when someone else holds it.  Yields the
    descriptor (close-on-exec; pass it to children that must hold the lock too)."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.write(waiting + "\n")
            log.flush()
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield fd
    finally:
        os.close(fd)  # releases the lock


class OutputDir:
    """One output directory, as the user named it (``shown``) and as it is (``path``)."""

    def __init__(self, given: Path) -> None:
        self.shown = given
        self.path = Path(os.path.realpath(given))
        self.parent = self.path.parent
        self.name = self.path.name
        self.work = self.parent / f".{self.name}.work"
        self.lock_path = self.parent / f".{self.name}.lock"

    # ------------------------------------------------------------ ownership
    def check_target(self, spec: Path, will_write: list[str]) -> list[str]:
        """Raise ``OutputRefused`` unless a build may write here; return the
        names in it that unilang did not write (to be kept)."""
        shown = self.shown
        if self.name in ("", ".", ".."):
            raise OutputRefused(f"`{shown}` cannot be an output directory",
                                help="name a new or empty directory, e.g. `-o build/out`")
        spec_dir = Path(os.path.realpath(spec)).parent
        if self.path == spec_dir:
            raise OutputRefused(f"`{shown}` is the spec's own folder; a build does not write "
                                "there", help="name a new or empty directory, e.g. "
                                "`-o build/out`, or leave out `-o` for build/<app>/<backend>")
        if self.path == Path(os.path.realpath(os.getcwd())):
            raise OutputRefused(f"`{shown}` is the current directory; a build does not write "
                                "there", help="name a new or empty directory, e.g. "
                                "`-o build/out`, or leave out `-o` for build/<app>/<backend>")
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise OutputRefused(f"cannot use `{shown}`: {exc.strerror or exc}") from None
        if not stat.S_ISDIR(st.st_mode):
            raise OutputRefused(f"`{shown}` exists and is not a directory",
                                help="name a new or empty directory")
        try:
            entries = sorted(os.listdir(self.path))
        except OSError as exc:
            raise OutputRefused(f"cannot list `{shown}`: {exc.strerror or exc}") from None
        if not entries:
            return []
        owned = read_marker(self.path)
        if owned is None and self._legacy(entries, will_write):
            owned = [n for n in entries]
        if owned is None:
            listed = ", ".join(f"`{n}`" for n in entries[:5]) + (" ..." if len(entries) > 5 else "")
            raise OutputRefused(
                f"output directory `{shown}` is not empty and was not written by unilang",
                notes=(f"it holds {listed}",),
                help=f"name a new or empty directory; unilang marks the directories it owns "
                     f"with a `{MARKER}` file and never writes into others")
        foreign = [n for n in entries if n != MARKER and n not in owned and n not in will_write]
        for n in foreign:
            if not stat.S_ISREG(os.lstat(self.path / n).st_mode):
                raise OutputRefused(
                    f"output directory `{shown}` holds `{n}`, which unilang did not write and "
                    "cannot carry over (not a regular file)",
                    help="move it out of the output directory")
        return foreign

    def _legacy(self, entries: list[str], will_write: list[str]) -> bool:
        """An output directory of an older unilang, which had no marker: only
        names unilang writes, and its manifest."""
        if "manifest.json" not in entries or not set(entries) <= set(will_write):
            return False
        try:
            doc = json.loads((self.path / "manifest.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return False
        return isinstance(doc, dict) and {"app", "backend", "sha256"} <= set(doc)

    # ------------------------------------------------------------ the lock
    @contextmanager
    def lock(self, log: IO[str]) -> Iterator[int]:
        """Hold the build lock of this output for the duration; say so when
        waiting.  Yields the lock's descriptor: a child given it (ninja, and
        through it every compiler) holds the lock too, so a build killed with
        SIGKILL keeps its output locked until its last process is gone."""
        self.parent.mkdir(parents=True, exist_ok=True)
        with hold_lock(self.lock_path, log, f"waiting for another build of `{self.shown}` "
                                            f"to finish (lock {self.lock_path.name})") as fd:
            yield fd

    # ------------------------------------------------------------ recovery
    def _temporaries(self) -> list[Path]:
        return [self.parent / n for n in temporaries(str(self.parent), self.name)]

    def recover(self) -> None:
        """Under the lock: undo what an interrupted publish left behind.

        An ``.old-*`` generation is the complete previous output when ``OUT``
        itself is gone (a crash between the two renames of the fallback
        publish): it is put back.  Every other temporary of ours is removed;
        one without the marker and not empty is not ours, and stays."""
        temps = self._temporaries()
        if not os.path.lexists(self.path):
            olds = [t for t in temps if t.name.startswith(f".{self.name}.old-")
                    and read_marker(t) is not None]
            if olds:
                newest = max(olds, key=lambda t: t.stat().st_mtime_ns)
                os.rename(newest, self.path)
                temps.remove(newest)
        for t in temps:
            self._remove_generation(t)

    @staticmethod
    def _remove_generation(t: Path) -> None:
        try:
            if not stat.S_ISDIR(os.lstat(t).st_mode):
                return
            if read_marker(t) is None and any(not n.startswith(".tmp-") for n in os.listdir(t)):
                return  # neither marked nor a publish that died before marking it
        except OSError:
            return
        # the marker goes last: a crash midway leaves a generation still
        # recognisably ours, which the next build removes
        try:
            names = sorted(os.listdir(t), key=lambda n: n == MARKER)
            for n in names:
                p = t / n
                if stat.S_ISDIR(os.lstat(p).st_mode):
                    shutil.rmtree(p)
                else:
                    os.unlink(p)
            os.rmdir(t)
        except OSError:
            pass

    # ------------------------------------------------------------ publishing
    def unchanged(self, files: Files) -> bool:
        owned = read_marker(self.path)
        if owned is None or sorted(owned) != sorted(files):
            return False
        try:
            for n, (data, mode) in files.items():
                p = self.path / n
                st = os.lstat(p)
                if not stat.S_ISREG(st.st_mode) or st.st_mode & 0o7777 != mode \
                        or st.st_size != len(data) or p.read_bytes() != data:
                    return False
        except OSError:
            return False
        return True

    def publish(self, files: Files, keep: list[str], fault: Fault = _no_fault,
                exchange: bool = True) -> bool:
        """Make ``OUT`` hold exactly ``files`` (plus the kept foreign files), or
        leave it as it was; False when it already did.  ``fault`` is called
        after every filesystem step (tests kill the process there); without
        ``exchange`` the fallback for filesystems that lack it is used."""
        if self.unchanged(files):
            return False
        self.parent.mkdir(parents=True, exist_ok=True)
        new = Path(tempfile.mkdtemp(dir=self.parent, prefix=f".{self.name}.new-"))
        fault("mkdtemp")
        # the marker first, and whole (a crash leaves none or a complete one):
        # it is what makes this directory recognisably unilang's
        _write_synced(new / ".tmp-marker", _marker_bytes(list(files)), 0o644)
        os.rename(new / ".tmp-marker", new / MARKER)
        fault("marker")
        for name, (data, mode) in sorted(files.items()):
            _write_synced(new / name, data, mode)
            fault(f"write {name}")
        for name in keep:
            os.link(self.path / name, new / name)
            fault(f"keep {name}")
        os.chmod(new, 0o755)
        _fsync_dir(new)
        fault("sync")
        if not os.path.lexists(self.path):
            os.rename(new, self.path)
            _fsync_dir(self.parent)
            fault("rename")
            return True
        if exchange and _exchange(new, self.path):
            _fsync_dir(self.parent)
            fault("exchange")
            self._remove_generation(new)  # now the previous generation
            fault("remove previous")
            return True
        # no atomic exchange here: two renames, which `recover` completes
        old = Path(tempfile.mkdtemp(dir=self.parent, prefix=f".{self.name}.old-"))
        os.rmdir(old)
        os.rename(self.path, old)
        fault("rename out")
        os.rename(new, self.path)
        _fsync_dir(self.parent)
        fault("rename new")
        self._remove_generation(old)
        fault("remove previous")
        return True

