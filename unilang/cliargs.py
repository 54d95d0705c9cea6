"""The options of `build`, `run` and `check`, as data: one grammar for two parsers.

``unilang.cli`` makes its click options from this table, and the early
paths (``unilang.entry``: a no-op `build`, an up-to-date `run`, `check`)
parse argv with ``parse`` before click is imported.  So the two can never disagree
about what a command line means; anything ``parse`` is not sure of (help,
an unknown option, a bad value) returns None and click decides, with its
own messages.  Only ``os`` is imported at load time (no ``typing``, no
``pathlib``): `run` parses its arguments here before it starts QEMU.
"""

from __future__ import annotations

from .paths import backend_names, default_backend

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

ACCELS = ("auto", "kvm", "tcg")  # QEMU accelerators, not backends


class Option:
    """One option of a command: its destination, flags, kind, help text, default and choices."""

    __slots__ = ("dest", "flags", "kind", "help", "default", "choices")

    def __init__(self, dest: str, flags: tuple[str, ...], kind: str, help: str,
                 default: Any = None, choices: tuple[str, ...] = ()) -> None:
        self.dest = dest
        self.flags = flags
        # "backend", "backend-or-all", "backends", "dir", "count", "seconds", "choice",
        # "forward", "flag" (no value: True when given)
        self.kind = kind
        self.help = help
        self.default = default
        self.choices = choices


BACKEND = Option("backend", ("-b", "--backend"), "backend",
                 "Backend: one of the folders under backends/.")
OUTPUT = Option("outdir", ("-o", "--output"), "dir",
                "Output directory [default: build/<app>/<backend>]. It must be new, empty or "
                "written by unilang before.")
BACKENDS = Option("backend", ("-b", "--backend"), "backends",
                  "Backend, or several separated by commas (-b kvm,xen): one of the folders "
                  "under backends/ each.")
SET_OUTPUT = Option("outdir", ("-o", "--output"), "dir",
                    "Output directory [default: build/<app>/<backend>]. It must be new, empty "
                    "or written by unilang before. With several specs or backends, the root "
                    "of the outputs instead: DIR/<app>/<backend>.")
JOBS = Option("jobs", ("-j", "--jobs"), "count",
              "Run N compile and link steps at once [default: ninja's, from the CPU count].")
OPTIONS: dict[str, tuple[Option, ...]] = {
    "build": (BACKENDS, SET_OUTPUT, JOBS),
    "run": (BACKEND, OUTPUT,
            Option("timeout", ("--timeout",), "seconds",
                   "Kill the guest after this many seconds (exit status 124).", 30.0),
            Option("accel", ("--accel",), "choice",
                   "auto uses KVM when /dev/kvm opens and QEMU can run a guest with it "
                   "(probed once, cached), TCG otherwise.", "auto", ACCELS),
            Option("forwards", ("--forward",), "forward",
                   "Forward PROTO:HOSTPORT:GUESTPORT (udp or tcp) from 127.0.0.1 on the host "
                   "to the guest's first net device, through QEMU user networking (no root). "
                   "Repeatable.", ())),
    "check": (Option("backend", ("-b", "--backend"), "backend-or-all",
                     "Backend to check the spec for; `all` checks each and reports per backend.",
                     "all"),
              Option("fmt", ("--format",), "choice",
                     "Diagnostics as rustc-style text (stderr), or JSON or SARIF 2.1.0 (for "
                     "code-scanning tools) on stdout.", "text", ("text", "json", "sarif")),
              Option("werror", ("--werror",), "flag", "Treat warnings as errors (exit 1).",
                     False)),
}
#: Options that may be given more than once; their value is a tuple of every value.
REPEATABLE = ("forward", "backends")
#: Commands that take several specs (``"specs"``: all of them, ``"spec"``: the first).
MANY_SPECS = ("build",)
FORWARD_PROTOCOLS = ("udp", "tcp")


def parse_forward(raw: str) -> tuple[str, int, int] | None:
    """``udp:5555:7`` -> ("udp", 5555, 7); None unless PROTO:HOSTPORT:GUESTPORT, ports 1-65535."""
    parts = raw.split(":")
    if len(parts) != 3 or parts[0] not in FORWARD_PROTOCOLS:
        return None
    ports = []
    for p in parts[1:]:
        if not (p.isascii() and p.isdigit()) or len(p) > 5 or not 1 <= int(p) <= 65535:
            return None
        ports.append(int(p))
    return parts[0], ports[0], ports[1]
MIN_TIMEOUT = 0.1
_INF = float("inf")


def parse_backends(raw: str) -> tuple[str, ...] | None:
    """``kvm,xen`` -> ("kvm", "xen") (lower-cased, in order, repeats kept);
    None unless every item names a backend."""
    names = backend_names()
    items = tuple(b.strip().lower() for b in raw.split(","))
    return items if items and all(b in names for b in items) else None


def parse_jobs(raw: str) -> int | None:
    """A positive job count, or None."""
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 6 or int(raw) < 1:
        return None
    return int(raw)


def _value(opt: Option, raw: str) -> Any:
    """The option's value, or None when click should judge it."""
    if opt.kind == "backend":
        b = raw.lower()
        return b if b in backend_names() else None
    if opt.kind == "backend-or-all":  # click.Choice(case_sensitive=False) compares casefolded
        b = raw.casefold()
        return b if b == "all" or b in backend_names() else None
    if opt.kind == "backends":
        return parse_backends(raw)
    if opt.kind == "count":
        return parse_jobs(raw)
    if opt.kind == "dir":
        return raw or None
    if opt.kind == "seconds":
        try:
            v = float(raw)
        except ValueError:
            return None
        return v if MIN_TIMEOUT <= v < _INF else None  # NaN compares False: refused
    if opt.kind == "forward":
        return parse_forward(raw)
    return raw if raw in opt.choices else None


def parse(command: str, args: list[str]) -> dict[str, Any] | None:
    """``{"spec": ..., dest: value ...}`` of a plain command line, else None."""
    options = OPTIONS[command]
    by_flag = {f: o for o in options for f in o.flags}
    found: dict[str, Any] = {}
    spec = None
    specs: list[str] = []
    i = 0
    while i < len(args):
        a = args[i]
        name, eq, inline = a.partition("=")
        if a in by_flag and by_flag[a].kind == "flag":
            found[by_flag[a].dest] = True
            i += 1
            continue
        if a in by_flag and i + 1 < len(args):
            opt, raw, i = by_flag[a], args[i + 1], i + 2
        elif eq and name.startswith("--") and name in by_flag and by_flag[name].kind != "flag":
            opt, raw, i = by_flag[name], inline, i + 1
        elif a.startswith("-") or (spec is not None and command not in MANY_SPECS):
            return None  # --help, an unknown option, a second argument
        else:
            spec = spec if spec is not None else a
            specs.append(a)
            i += 1
            continue
        value = _value(opt, raw)
        if value is None:
            return None
        if opt.kind == "backends":
            found[opt.dest] = found.get(opt.dest, ()) + value
        elif opt.kind in REPEATABLE:
            found[opt.dest] = found.get(opt.dest, ()) + (value,)
        else:
            found[opt.dest] = value
    if spec is None:
        return None
    out: dict[str, Any] = {"spec": spec}
    if command in MANY_SPECS:
        out["specs"] = tuple(specs)
    for o in options:
        if o.dest in found:
            out[o.dest] = found[o.dest]
        elif o.kind == "backend":  # found only when needed: it reads every backend.toml
            out[o.dest] = default_backend()
        elif o.kind == "backends":
            out[o.dest] = (default_backend(),)
        else:
            out[o.dest] = o.default
    return out
