"""The QEMU the native front started (``unilang/native/front.c``): adopted by
the early path of `run` when it is the very QEMU `run` would start, else killed.

The front forks QEMU paused (`-S`, an HMP monitor on a socket pair) before
it execs Python, and names the child in ``UNILANG_FRONT_QEMU``
(``PID,MONITOR,STDERR,REPORT``: the child's pid and this process's ends of
the monitor, of QEMU's stderr pipe and of the exec-report pipe).  ``take``
removes the variable from the environment at once (no child inherits it)
and returns a ``Front`` only when that pid is a child of this process;
``claim`` turns it into what ``unilang.run.spawn(paused=True)`` returns
when QEMU's command line, directory and binary are what ``prepare`` gives;
every other path ends with ``release`` (kill, reap, close), so no adopted
QEMU ever runs a guest that Python did not resume.

Only ``os`` is imported: this runs on the way to the guest.
"""

from __future__ import annotations

import os

try:  # the C module behind ``signal`` (which imports ``enum``)
    from _signal import SIGKILL
except ImportError:  # pragma: no cover - not CPython
    from signal import SIGKILL

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from .run import Prepared, Qemu

ENV = "UNILANG_FRONT_QEMU"
#: What the front appends to prepare's argv (the monitor's fd number varies).
MONITOR_TAIL = ("-S", "-chardev", "socket,id=unilang-mon,fd=", "-mon",
                "chardev=unilang-mon,mode=readline")


class Front:
    """A paused QEMU started by the front, until it is claimed or released."""

    __slots__ = ("pid", "monitor", "stderr", "report", "held")

    def __init__(self, pid: int, monitor: int, stderr: int, report: int) -> None:
        self.pid = pid
        self.monitor = monitor
        self.stderr = stderr
        self.report = report
        self.held = True  # False once claimed (the Qemu owns it) or released

    def release(self) -> None:
        """Kill the QEMU (its guest never ran), reap it, close its descriptors."""
        if not self.held:
            return
        self.held = False
        try:
            os.kill(self.pid, SIGKILL)
        except OSError:
            pass
        try:
            os.waitpid(self.pid, 0)
        except ChildProcessError:
            pass
        for fd in (self.monitor, self.stderr, self.report):
            try:
                os.close(fd)
            except OSError:
                pass


def _parent_of(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
        return int(stat[stat.rindex(b")") + 2:].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def take() -> Front | None:
    """The front's QEMU, if ``UNILANG_FRONT_QEMU`` names a child of this process
    (the variable is removed either way)."""
    raw = os.environ.pop(ENV, None)
    if raw is None:
        return None
    try:
        pid, monitor, stderr, report = (int(x) for x in raw.split(","))
    except ValueError:
        return None
    if pid <= 0 or _parent_of(pid) != os.getpid():
        return None  # not ours: leave whatever those numbers are alone
    front = Front(pid, monitor, stderr, report)
    fds = (monitor, stderr, report)
    if len(set(fds)) != 3 or min(fds) < 3:
        front.monitor = front.stderr = front.report = -1  # not the front's: kill only
        front.release()
        return None
    for fd in fds:  # ours from here on: never passed on to another child
        try:
            os.set_inheritable(fd, False)
        except OSError:
            front.release()
            return None
    return front


def release(front: Front | None) -> None:
    if front is not None:
        front.release()


def _started(front: Front) -> bool:
    """Whether the front's child exec'd (the report pipe closes on exec; a
    failed exec writes its errno first)."""
    from .run import exec_report

    failed = exec_report(front.report)
    os.close(front.report)
    front.report = -1
    return not failed


def _command_line(pid: int) -> list[str] | None:
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        raw = f.read()
    if not raw.endswith(b"\0"):
        return None
    return [os.fsdecode(a) for a in raw[:-1].split(b"\0")]


def _matches(front: Front, ready: Prepared, outdir: str) -> bool:
    argv = _command_line(front.pid)
    n = len(MONITOR_TAIL)
    if argv is None or len(argv) < n + 1:
        return False
    tail = argv[-n:]
    fd = tail[2][len(MONITOR_TAIL[2]):]
    if not (tail[:2] == list(MONITOR_TAIL[:2]) and tail[3:] == list(MONITOR_TAIL[3:])
            and tail[2].startswith(MONITOR_TAIL[2]) and fd.isascii() and fd.isdigit()):
        return False
    if argv[1:-n] != ready.argv[1:]:
        return False
    exe = os.readlink(f"/proc/{front.pid}/exe")
    cwd = os.readlink(f"/proc/{front.pid}/cwd")
    return exe == os.path.realpath(ready.argv[0]) and \
        cwd == os.path.realpath(outdir)


def claim(front: Front, ready: Prepared, outdir: str) -> tuple[Qemu, Any] | None:
    """``(Qemu, monitor)`` as ``spawn(ready.argv, outdir, None, paused=True)``
    would return them, when the front's QEMU is that very process; else None,
    and the front's QEMU is gone (killed, reaped, closed)."""
    import _socket

    from .run import Qemu

    try:
        if front.held and _started(front) and _matches(front, ready, outdir):
            monitor = _socket.socket(fileno=front.monitor)
            front.held = False
            return Qemu(front.pid, front.stderr), monitor
    except OSError:
        pass
    finally:
        if front.held:
            front.release()
    return None
