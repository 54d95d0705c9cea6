"""`unilang run`: boot a built image under QEMU microvm and return the guest's exit code.

The guest ends by writing its code to QEMU's isa-debug-exit port, which
makes QEMU exit with status (code << 1) | 1; this module decodes it.

Only the standard library is imported here: an up-to-date `unilang run`
boots from ``unilang.entry`` (``quick_run``) without importing click, attrs
or jinja2, and the full CLI calls the same ``boot``.  Problems are returned
as data (``Problem``); the CLI turns them into diagnostics, the early path
renders them with ``render_problem`` (the same text, without colour).
"""

from __future__ import annotations

import os
import sys

try:  # the C module behind ``signal``, which would import ``enum`` on the way to QEMU
    import _signal as signal
except ImportError:  # pragma: no cover - not CPython
    import signal  # type: ignore[no-redef]

from .kvmprobe import with_accel

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import IO, Any, Callable

QEMU = "qemu-system-x86_64"
TIMEOUT_EXIT = 124
#: Exit status of `unilang run` itself on its errors (the CLI's EXIT_ERRORS / EXIT_INTERNAL).
ERRORS_EXIT, INTERNAL_EXIT = 1, 3
#: Environment override of the KVM device (tests use it to simulate a host without KVM).
KVM_DEVICE_ENV = "UNILANG_KVM_DEVICE"
KVM_DEVICE = "/dev/kvm"
#: Signals that stop `unilang run`: QEMU is stopped with it, and run exits 128 + signo.
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
STOP_GRACE = 2.0
TCG_NOTE = "note: KVM is present but QEMU cannot run a guest with it here; using TCG\n"
PR_SET_PDEATHSIG = 1


class Problem:
    """An error of `run`, as data: rendered by the caller."""

    __slots__ = ("code", "message", "notes", "help")

    def __init__(self, code: str, message: str, notes: tuple[str, ...] = (),
                 help: str | None = None) -> None:
        self.code = code
        self.message = message
        self.notes = notes
        self.help = help

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Problem) and (self.code, self.message, self.notes, self.help) \
            == (other.code, other.message, other.notes, other.help)

    def __repr__(self) -> str:
        return f"Problem({self.code!r}, {self.message!r}, {self.notes!r}, {self.help!r})"


class RunResult:
    """What a boot came to: `run`'s exit status, and the problem when there was one."""

    __slots__ = ("exit_code", "problem")

    def __init__(self, exit_code: int, problem: Problem | None = None) -> None:
        self.exit_code = exit_code
        self.problem = problem

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RunResult) and \
            (self.exit_code, self.problem) == (other.exit_code, other.problem)

    def __repr__(self) -> str:
        return f"RunResult({self.exit_code!r}, {self.problem!r})"


def render_problem(p: Problem) -> str:
    """``p`` as the text renderer shows a diagnostic without a location, plus the summary."""
    lines = [f"error[{p.code}]: {p.message}"]
    lines += [f"  = note: {n}" for n in p.notes]
    if p.help:
        lines.append(f"  = help: {p.help}")
    return "\n".join(lines) + "\n\n1 error emitted\n"


# ------------------------------------------------------------ accelerator

def kvm_device() -> str:
    return os.environ.get(KVM_DEVICE_ENV) or KVM_DEVICE


def kvm_open_error() -> str | None:
    """None when the KVM device opens for reading and writing, else why not."""
    try:
        fd = os.open(kvm_device(), os.O_RDWR | os.O_CLOEXEC)
    except OSError as exc:
        return exc.strerror or str(exc)
    os.close(fd)
    return None


def kvm_usable() -> bool:
    return kvm_open_error() is None


def choose_accel(qemu: str, requested: str | None,
                 say: Callable[[str], Any]) -> tuple[str, Problem | None]:
    """The accelerator to boot with.  ``auto`` (None) is KVM when the device
    opens *and* QEMU can run a guest with it here (probed once, cached), else
    TCG, with a note when KVM is present but does not work."""
    if requested == "tcg":
        return "tcg", None
    why = kvm_open_error()
    if requested == "kvm":
        if why is not None:
            return "kvm", Problem(
                "U0205", f"`--accel kvm`: cannot open the KVM device `{kvm_device()}`: {why}",
                help="use `--accel tcg`, or `--accel auto` (KVM when it works here, else TCG)")
        return "kvm", None
    if why is not None:
        return "tcg", None
    from .kvmprobe import kvm_runs_guest

    if kvm_runs_guest(qemu):
        return "kvm", None
    say(TCG_NOTE)
    return "tcg", None


Forward = tuple[str, int, int]  # (udp|tcp, host port, guest port)
#: How QEMU user networking (slirp) forwards a host port: bound to 127.0.0.1 only.
HOSTFWD = ",hostfwd={0}:127.0.0.1:{1}-:{2}"


def argv_with_forwards(argv: list[str], forwards: tuple[Forward, ...]) -> list[str] | None:
    """``argv`` with ``forwards`` added to its first user-networking `-netdev`,
    or None when it has none (the app declares no net device)."""
    if not forwards:
        return argv
    for i in range(len(argv) - 1):
        if argv[i] == "-netdev" and argv[i + 1].startswith("user,"):
            extra = "".join(HOSTFWD.format(*f) for f in forwards)
            return argv[:i + 1] + [argv[i + 1] + extra] + argv[i + 2:]
    return None


def runtime_argv(outdir: str | os.PathLike[str], accel: str,
                 forwards: tuple[Forward, ...] = ()) -> list[str]:
    """The argv from qemu.json, with one accelerator and the port forwards;
    ValueError when there are forwards but no user-networking NIC."""
    from .quickjson import loads

    with open(os.path.join(outdir, "qemu.json"), encoding="utf-8") as f:
        argv = with_accel(loads(f.read()), accel)
    out = argv_with_forwards(argv, forwards)
    if out is None:
        raise ValueError("no user-networking -netdev to forward to")
    return out


def _no_nic(forwards: tuple[Forward, ...]) -> Problem:
    return Problem("U0210", f"`--forward {':'.join(map(str, forwards[0]))}`: the app has no "
                   "network device to forward to",
                   help="declare `device net0 { kind = net; }` in the app (and require a "
                   "network construct such as `net.udp`), or drop `--forward`")


def decode(status: int) -> int | None:
    """The guest's exit code from QEMU's status, or None when it is not a debug-exit."""
    if status > 0 and status & 1:
        return status >> 1
    return None


# ------------------------------------------------------------ host memory

def format_size(n: int) -> str:
    for unit, shift in (("TiB", 40), ("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift:
            whole = n % (1 << shift) == 0
            return f"{n >> shift} {unit}" if whole else f"{n / (1 << shift):.1f} {unit}"
    return f"{n} B"


def host_memory() -> list[tuple[str, int]]:
    """What this host can give a new process: MemAvailable, and RLIMIT_AS when set."""
    out: list[tuple[str, int]] = []
    try:
        with open("/proc/meminfo", "rb") as f:  # bytes: no codec to load on the way to QEMU
            for line in f:
                if line.startswith(b"MemAvailable:"):
                    out.append(("MemAvailable in /proc/meminfo", int(line.split()[1]) * 1024))
                    break
    except (OSError, ValueError, IndexError):
        pass
    try:
        import resource

        soft, _hard = resource.getrlimit(resource.RLIMIT_AS)
        if soft != resource.RLIM_INFINITY:
            out.append(("RLIMIT_AS (ulimit -v) of this process", soft))
    except (ImportError, OSError, ValueError):
        pass
    return out


def memory_problem(need: int) -> Problem | None:
    """U0209 when the guest's memory exceeds what the host can give."""
    limits = host_memory()
    if not limits:
        return None
    what, have = min(limits, key=lambda x: x[1])
    if need <= have:
        return None
    return Problem(
        "U0209", f"not enough host memory: the guest needs {format_size(need)} "
        f"({need} bytes) but this host can give {format_size(have)} ({have} bytes)",
        notes=tuple(f"{w}: {format_size(n)} ({n} bytes)" for w, n in limits),
        help="lower `memory` in the spec, or free memory on the host")


# ------------------------------------------------------------ booting

class Stopped(BaseException):
    """Raised by the handler of a stop signal while QEMU runs."""

    def __init__(self, signo: int) -> None:
        super().__init__(signo)
        self.signo = signo


def _raise_stopped(signo: int, _frame: object) -> None:
    raise Stopped(signo)


def _ignore(_signo: int, _frame: object) -> None:
    pass


class TimedOut(Exception):
    """``Qemu.wait`` ran out of time."""


class Qemu:
    """A QEMU child process: its pid, the read end of its stderr, its status.

    Started by ``spawn`` with ``os.fork`` and ``os.execv`` rather than
    ``subprocess`` (whose import, with ``selectors``, ``threading`` and
    ``signal``'s enums, costs more than QEMU's own start-up on the way to
    the guest's first instruction)."""

    def __init__(self, pid: int, stderr: int) -> None:
        self.pid = pid
        self.stderr = stderr  # -1 once closed
        self.returncode: int | None = None

    def _reap(self, flags: int) -> int | None:
        if self.returncode is None:
            try:
                pid, status = os.waitpid(self.pid, flags)
            except ChildProcessError:
                pid, status = self.pid, 0  # reaped elsewhere: unknown (as subprocess: 0)
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def poll(self) -> int | None:
        return self._reap(os.WNOHANG)

    def wait(self, timeout: float | None = None) -> int:
        """The exit status (negative: killed by that signal); TimedOut after ``timeout`` s."""
        if timeout is not None and self.poll() is None:
            try:
                pidfd = os.pidfd_open(self.pid)
            except (AttributeError, OSError):  # before Linux 5.3: look now and then
                self._sleep_until_exit(timeout)
            else:
                try:  # readable when the process has exited: no polling delay
                    if not _readable(pidfd, timeout):
                        raise TimedOut
                finally:
                    os.close(pidfd)
        code = self._reap(0)
        assert code is not None
        return code

    def _sleep_until_exit(self, timeout: float) -> None:
        import time

        deadline = time.monotonic() + timeout
        delay = 0.0005
        while self.poll() is None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimedOut
            time.sleep(min(delay, left))
            delay = min(delay * 2, 0.05)

    def send_signal(self, signo: int) -> None:
        if self.poll() is None:
            try:
                os.kill(self.pid, signo)
            except ProcessLookupError:
                pass

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def read_stderr(self, timeout: float | None) -> tuple[bytes, bool]:
        """Everything QEMU writes to stderr until it closes it (it exits), and
        True; or what came within ``timeout`` s, and False."""
        import time

        deadline = None if timeout is None else time.monotonic() + timeout
        chunks = []
        while True:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and (left <= 0 or not _readable(self.stderr, left)):
                return b"".join(chunks), False
            chunk = os.read(self.stderr, 65536)
            if not chunk:
                self.close()
                return b"".join(chunks), True
            chunks.append(chunk)

    def communicate(self, timeout: float | None = None) -> bytes:
        """Read stderr to its end and wait for QEMU (within ``timeout`` s, else TimedOut)."""
        import time

        start = time.monotonic()
        err, done = self.read_stderr(timeout)
        if not done:
            raise TimedOut
        left = None if timeout is None else max(0.0, timeout - (time.monotonic() - start))
        self.wait(left)  # stderr closed: QEMU is exiting
        return err

    def close(self) -> None:
        if self.stderr >= 0:
            os.close(self.stderr)
            self.stderr = -1


def _readable(fd: int, timeout: float) -> bool:
    """Whether ``fd`` becomes readable (or hung up) within ``timeout`` s."""
    import select

    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(max(0, int(timeout * 1000 + 0.999))))


def exec_report(fd: int) -> bytes:
    """What a forked child wrote to its exec-report pipe before the pipe closed:
    nothing when it exec'd (the pipe is close-on-exec), the errno of a failed
    exec otherwise.  Reads to EOF; the caller closes ``fd``."""
    failed = b""
    while True:
        chunk = os.read(fd, 64)
        if not chunk:
            return failed
        failed += chunk


def _pdeathsig() -> Callable[[], None] | None:
    """Linux ``prctl(PR_SET_PDEATHSIG, SIGKILL)`` for the child to call
    before exec, or None elsewhere.

    Through ``_ctypes``, the C module under ``ctypes``: ``ctypes`` itself
    (with ``struct``, ``types`` and its dozens of classes) costs a few
    milliseconds more on the way to QEMU.  ``call_function`` passes the
    integers as C ints, as a ``ctypes`` call without argtypes does."""
    if not sys.platform.startswith("linux"):
        return None
    args = (PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    try:
        import _ctypes

        address = _ctypes.dlsym(_ctypes.dlopen(None, os.RTLD_NOW), "prctl")
        call = _ctypes.call_function
    except (ImportError, AttributeError, OSError):  # pragma: no cover - another Python
        import ctypes

        prctl = ctypes.CDLL(None, use_errno=True).prctl
        return lambda: prctl(*args)
    return lambda: call(address, args)


def _close_fds_except(keep: tuple[int, ...]) -> None:
    """Close every descriptor from 3 up except ``keep`` (as subprocess's close_fds):
    those /proc/self/fd lists, else every number below the descriptor limit."""
    try:
        names = os.listdir("/proc/self/fd")  # its own descriptor is closed again by now
    except OSError:
        names = []
    if names:
        for name in names:
            fd = int(name)
            if fd >= 3 and fd not in keep:
                try:
                    os.close(fd)
                except OSError:
                    pass
        return
    try:
        top = os.sysconf("SC_OPEN_MAX")
    except (ValueError, OSError):
        top = 1 << 16
    low = 3
    for fd in sorted(keep):
        if fd >= low:
            os.closerange(low, fd)
            low = fd + 1
    os.closerange(low, max(top, low))


def _child(exe: str, argv: list[str], cwd: str | os.PathLike[str], parent: int,
           arm: Callable[[], None] | None, fds: tuple[int, int | None, int],
           monitor: int | None, report: int) -> None:
    """The forked child: dies with ``parent``, takes ``fds`` as its stdin,
    stdout (None: this process's) and stderr, keeps ``monitor`` open, and
    execs QEMU.  Never returns: on any failure its errno goes to ``report``
    and the child exits 127."""
    code = 0
    try:
        for s in STOP_SIGNALS:  # a stop signal now kills the child: exec would do the same
            signal.signal(s, signal.SIG_DFL)
        if arm is not None:
            arm()
            if os.getppid() != parent:  # the parent died before the death signal was armed
                os.kill(os.getpid(), signal.SIGKILL)
        moved = []
        for fd in fds:  # out of 0..2 first, so that no dup2 overwrites a source
            while fd is not None and fd < 3:
                fd = os.dup(fd)
            moved.append(fd)
        for target, fd in enumerate(moved):
            if fd is not None:
                os.dup2(fd, target)
        keep = (report,) if monitor is None else (report, monitor)
        if monitor is not None:
            os.set_inheritable(monitor, True)
        _close_fds_except(keep)
        os.chdir(cwd)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
        os.execv(exe, argv)
    except BaseException as exc:  # noqa: BLE001 - whatever happened, never return
        code = getattr(exc, "errno", None) or 0
    try:
        os.write(report, str(code).encode())
    finally:
        os._exit(127)


def _qemu_failed(accel: str, status: int, text: str) -> Problem:
    notes = tuple(line for line in text.splitlines() if line.strip())[-10:]
    what = f"killed by signal {-status}" if status < 0 else f"status {status}"
    if status == 0:
        return Problem("U0205", "the guest stopped without an exit code (a reset or triple fault)",
                       notes)
    if accel == "kvm" and (status < 0 or "kvm" in text.lower() or "MSR" in text):
        # an abort (nested hosts: `failed to set MSR 0x10a`), or KVM named by QEMU
        return Problem("U0205", f"QEMU cannot run the guest with KVM here ({what})", notes,
                       "use `--accel tcg`, or `--accel auto` (KVM when it works here, else TCG)")
    return Problem("U0205", f"QEMU failed with {what}", notes)


class Prepared:
    """What ``spawn`` needs: QEMU's command line, with the accelerator it chose."""

    __slots__ = ("argv", "accel")

    def __init__(self, argv: list[str], accel: str) -> None:
        self.argv = argv
        self.accel = accel


def prepare(outdir: str | os.PathLike[str], manifest: dict[str, Any], accel: str | None,
            say: Callable[[str], Any], forwards: tuple[Forward, ...] = ()) -> Prepared | RunResult:
    """Everything decided before QEMU starts: the binary, the host's memory, the
    accelerator and the command line; a RunResult when the boot cannot happen."""
    from .fsutil import which

    qemu = which(QEMU)
    if qemu is None:
        return RunResult(ERRORS_EXIT, Problem("U0200", f"`{QEMU}` is not installed",
                                              help="Debian: `apt-get install qemu-system-x86`"))
    memory = manifest.get("memory")
    if isinstance(memory, int):
        short = memory_problem(memory)
        if short is not None:
            return RunResult(ERRORS_EXIT, short)
    chosen, problem = choose_accel(qemu, accel, say)
    if problem is not None:
        return RunResult(ERRORS_EXIT, problem)
    from .quickjson import loads

    with open(os.path.join(outdir, "qemu.json"), encoding="utf-8") as f:
        with_fwd = argv_with_forwards(with_accel(loads(f.read()), chosen), forwards)
    if with_fwd is None:
        return RunResult(ERRORS_EXIT, _no_nic(forwards))
    argv = with_fwd
    argv[0] = qemu
    return Prepared(argv, chosen)


class StopSignals:
    """While active, SIGTERM, SIGINT and SIGHUP raise ``Stopped`` (so that the
    caller stops QEMU and exits 128 + signo); the previous handlers come back on exit."""

    def __enter__(self) -> StopSignals:
        self.previous = {s: signal.signal(s, _raise_stopped) for s in STOP_SIGNALS}
        return self

    def __exit__(self, *_exc: object) -> None:
        for s, handler in self.previous.items():
            signal.signal(s, handler)


def spawn(argv: list[str], cwd: str | os.PathLike[str], stdout: int | IO[Any] | None,
          paused: bool = False) -> tuple[Qemu, Any]:
    """Start QEMU (inside ``StopSignals``) in ``cwd``, its stdin /dev/null, its
    stdout ``stdout`` (None: this process's), its stderr a pipe: it dies with
    this process (Linux: PR_SET_PDEATHSIG).  ``paused`` starts it with its
    vCPU stopped (`-S`) and returns the other end of its monitor (HMP on a
    socket pair) for ``resume``; else the monitor is None.  OSError when QEMU
    cannot be executed."""
    arm = _pdeathsig()
    for fd in (0, 1, 2):  # a closed standard descriptor would be reused by the pipes below
        try:
            os.fstat(fd)
        except OSError:  # the lowest free number, ``fd``, inherited as a standard one is
            os.set_inheritable(os.open(os.devnull, os.O_RDWR), True)
    monitor = theirs = None
    if paused:
        import _socket  # the C module: ``socket`` would import ``enum`` and ``selectors``

        monitor, theirs = _socket.socketpair()
        argv = argv + ["-S", "-chardev", f"socket,id=unilang-mon,fd={theirs.fileno()}",
                       "-mon", "chardev=unilang-mon,mode=readline"]
    out = stdout if stdout is None or isinstance(stdout, int) else stdout.fileno()
    exe = os.path.abspath(argv[0])  # before the child's chdir
    opened: list[int] = []
    try:
        null = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
        opened.append(null)
        err_r, err_w = os.pipe()
        opened += [err_r, err_w]
        report_r, report_w = os.pipe()
        opened += [report_r, report_w]
        parent = os.getpid()
        # Blocked around the fork: a stop signal arriving then is handled once the
        # caller holds the process, so QEMU is never left behind.
        signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
        try:
            pid = os.fork()
            if pid == 0:  # pragma: no cover - the child execs or exits
                _child(exe, argv, cwd, parent, arm, (null, out, err_w),
                       None if theirs is None else theirs.fileno(), report_w)
            proc = Qemu(pid, err_r)
            opened.remove(err_r)
            for fd in (null, err_w, report_w):
                os.close(fd)
                opened.remove(fd)
            failed = exec_report(report_r)
        except BaseException:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
            raise
        try:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
        except Stopped as stopped:  # arrived while blocked: the caller never holds ``proc``
            stop(proc, stopped.signo)
            raise
        if failed:
            proc.wait()
            proc.close()
            code = int(failed) if failed.isdigit() else 0
            raise OSError(code, os.strerror(code) if code else "cannot start", argv[0])
    except BaseException:
        if monitor is not None:
            monitor.close()
        raise
    finally:
        for fd in opened:
            os.close(fd)
        if theirs is not None:
            theirs.close()
    return proc, monitor


def resume(monitor: Any) -> None:
    """Let a QEMU started with ``spawn(paused=True)`` run the guest.  The
    monitor must stay open until QEMU exits: QEMU reads the command only once
    its main loop runs, and a monitor closed before that drops it."""
    try:
        monitor.sendall(b"cont\n")
    except OSError:
        pass  # QEMU is already gone: waiting for it reports why


def stop(proc: Qemu, signo: int) -> None:
    """Pass ``signo`` on to QEMU; kill it if it is still there after a grace period.
    Further stop signals (`timeout` signals the process and its group) are
    ignored meanwhile; ``StopSignals`` restores the handlers afterwards."""
    for s in STOP_SIGNALS:
        signal.signal(s, _ignore)
    try:
        proc.send_signal(signo)
        proc.wait(timeout=STOP_GRACE)
    except TimedOut:
        proc.kill()
        proc.wait()
    proc.close()


def discard(proc: Qemu) -> None:
    """Kill a QEMU that must not run (its guest never started) and reap it."""
    proc.kill()
    proc.wait()
    proc.close()


def wait(proc: Qemu, accel: str, timeout: float) -> RunResult:
    """Wait for QEMU (inside ``StopSignals``) and decode the guest's exit code."""
    try:
        err = proc.communicate(timeout=timeout)
    except TimedOut:
        proc.kill()
        proc.communicate()
        return RunResult(TIMEOUT_EXIT, Problem(
            "U0203", f"the guest did not stop within {timeout:g} s and was killed",
            help="raise `--timeout`, or check that the app returns from main"))
    text = err.decode("utf-8", "replace")
    status = proc.returncode
    assert status is not None
    code = decode(status)
    errors = [line for line in text.splitlines()
              if line.startswith("qemu-system") and ": warning:" not in line]
    qemu_failed = bool(errors) and (code is None or status == 1)
    if qemu_failed or code is None:
        return RunResult(ERRORS_EXIT, _qemu_failed(accel, status, text))
    if text.strip():
        sys.stderr.write(text)
    return RunResult(code)


def boot(outdir: str | os.PathLike[str], manifest: dict[str, Any], timeout: float,
         accel: str | None = None, stdout: int | IO[Any] | None = None,
         say: Callable[[str], Any] = sys.stderr.write,
         forwards: tuple[Forward, ...] = ()) -> RunResult:
    """Boot the image in ``outdir`` and return the guest's exit code.

    While QEMU runs, SIGTERM, SIGINT and SIGHUP stop it and the result is
    128 + the signal's number; QEMU also dies if this process is killed."""
    ready = prepare(outdir, manifest, accel, say, forwards)
    if isinstance(ready, RunResult):
        return ready
    proc = None
    with StopSignals():
        try:
            proc, _none = spawn(ready.argv, outdir, stdout)
            return wait(proc, ready.accel, timeout)
        except Stopped as stopped:
            if proc is not None:
                stop(proc, stopped.signo)
            return RunResult(128 + stopped.signo)
