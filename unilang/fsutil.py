"""Files, safely: writing whole or not at all; reading only regular files,
never blocking (a FIFO or a device is refused by its type before a read).

Only ``os`` is imported at load time: the early paths of `build` and `run`
read files through this module before QEMU starts (``unilang.quickrun``).
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Iterator


def which(cmd: str) -> str | None:
    """``shutil.which(cmd)`` on POSIX, the same answer without importing
    ``shutil`` (and ``fnmatch``, ``re`` ...) on the way to starting QEMU."""
    if os.path.dirname(cmd):
        return cmd if _access_check(cmd) else None
    path = os.environ.get("PATH", None)
    if path is None:
        try:
            path = os.confstr("CS_PATH")
        except (AttributeError, ValueError):
            path = os.defpath
    if not path:
        return None
    seen = set()
    for folder in os.fsdecode(path).split(os.pathsep):
        norm = os.path.normcase(folder)
        if norm not in seen:
            seen.add(norm)
            name = os.path.join(folder, cmd)
            if _access_check(name):
                return name
    return None


def _access_check(name: str) -> bool:
    return os.path.exists(name) and os.access(name, os.F_OK | os.X_OK) and not os.path.isdir(name)


def _create_temporary(folder: Path, prefix: str) -> tuple[int, str]:
    """A new file ``folder/<prefix><16 random hex digits>``, created exclusively
    (never an existing file or a link planted there) with mode 0600, as
    ``tempfile.mkstemp`` does; that module is not imported because it pulls
    in ``random`` and ``shutil`` with its compressors, ~0.9 MiB and ~5 ms that
    a `check` writing its cache entries would pay."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | os.O_NOFOLLOW
    for _ in range(100):
        name = os.path.join(folder, prefix + os.urandom(8).hex())
        try:
            return os.open(name, flags, 0o600), name
        except FileExistsError:
            continue
    raise FileExistsError(f"no unused temporary file name in {folder}")


def atomic_write(path: Path, data: bytes, mode: int = 0o644, durable: bool = True,
                 dir_mode: int = 0o777, prefix: str = ".tmp-") -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename: readers
    and concurrent writers only ever see a whole file.  ``durable`` also syncs
    it to disk (a cache entry does not need that).  The temporary file is
    named ``<prefix>*`` beside ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=dir_mode)
    fd, tmp = _create_temporary(path.parent, prefix)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            if durable:
                f.flush()
                os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def read_regular(path: str | os.PathLike[str], limit: int = 256 << 20, *,
                 nofollow: bool = False, owned: bool = False, private: bool = False) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes; OSError for
    anything else: a FIFO, socket or device (opened non-blocking and refused
    by its type, so it cannot block or never end), a file that grew or shrank
    while it was read, with ``nofollow`` a symbolic link, with ``owned`` a
    file of another user, with ``private`` one others may read."""
    return b"".join(read_chunks(path, limit, nofollow=nofollow, owned=owned, private=private))


def read_chunks(path: str | os.PathLike[str], limit: int = 256 << 20, *, step: int | None = None,
                nofollow: bool = False, owned: bool = False, private: bool = False
                ) -> "Iterator[bytes]":
    """``read_regular``'s bytes in pieces of at most ``step`` bytes (default:
    as few reads as the size allows), for a reader that need not hold them
    all; the same OSErrors, a change of size after the pieces read."""
    import errno
    import stat

    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | (os.O_NOFOLLOW if nofollow else 0)
    fd = os.open(path, flags)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise OSError(errno.EINVAL, "not a regular file", str(path))
        if st.st_size > limit:
            raise OSError(errno.EFBIG, f"larger than {limit} bytes", str(path))
        if owned and st.st_uid != os.getuid():
            raise OSError(errno.EPERM, "owned by another user", str(path))
        if private and st.st_mode & 0o077:
            raise OSError(errno.EPERM, "readable by others", str(path))
        size = 0
        while size <= st.st_size:  # until EOF, or one byte past the size it had
            want = st.st_size + 1 - size
            chunk = os.read(fd, want if step is None else min(step, want))
            if not chunk:
                break
            yield chunk
            size += len(chunk)
        if size != st.st_size:
            raise OSError(errno.EAGAIN, "changed while it was read", str(path))
    finally:
        os.close(fd)
