"""The `unilang` command line.

Exit codes: 0 success (warnings allowed), 1 errors in the input, 2 usage
error, 3 internal error.  Diagnostics go to stderr as text (or to stdout as
JSON with ``--format json``, SARIF 2.1.0 with ``check --format sarif``).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Callable, NoReturn

import click

from .diagnostics import error
from .backend import default_name, names
from .command import (EXIT_ERRORS, EXIT_OK, EXIT_USAGE, emit_diagnostics, finish,
                      guarded as command_guarded)

BACKENDS = names()
DEFAULT_BACKEND = default_name()

BACKEND_CHOICE = click.Choice(BACKENDS, case_sensitive=False)
BACKEND_OR_ALL = click.Choice(BACKENDS + ("all",), case_sensitive=False)


def guarded(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn any unexpected exception into an internal-error diagnostic and exit 3
    (``unilang.command.guarded``; click's exits and usage errors go through)."""
    return command_guarded(fn, (click.exceptions.Exit, click.ClickException))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="unilang", prog_name="unilang")
def main() -> None:
    """unilang: a declarative language and compiler for unikernels.

    A .uni spec declares an app, the OS constructs it needs and the policies
    it must obey. unilang resolves which libraries go into the image for each
    backend (each folder under backends/), rejects dependency and policy
    errors before anything is built, and builds a sealed, bootable image.

    \b
    Typical use:
      unilang check app.uni            # CI gate: exit 1 on any error
      unilang resolve app.uni -b kvm   # what goes into the image, and why
      unilang build app.uni -b kvm     # image + hypervisor configs
      unilang run app.uni -b kvm       # boot it under QEMU

    Run `unilang COMMAND --help` for each command, and `unilang explain CODE`
    for any diagnostic code.
    """
    import gc

    # One command is one short-lived process whose data (syntax trees, the
    # model) has no reference cycles to reclaim; the cyclic collector only
    # rescans the growing heap (a third of the time of a 100,000-library check).
    # Restored when the command ends, for callers that run it in-process.
    if gc.isenabled():
        gc.disable()
        click.get_current_context().call_on_close(gc.enable)


def _resolve_one(spec: Path, backend: str, fmt: str) -> tuple[Any, Any]:
    """Run the front end and resolution for one backend; exit 1 on errors."""
    from .driver import check_spec

    session, results = check_spec(spec, [backend])
    diags = session.sink.sorted()
    res = results[0].resolution
    if any(d.is_error for d in diags) or res is None:
        emit_diagnostics(session, diags, "json" if fmt == "json" else "text",
                         {"spec": str(spec), "backends": [backend], "ok": False})
        sys.exit(EXIT_ERRORS)
    if diags:
        emit_diagnostics(session, diags, "text")
    return session, res


@main.command()
@click.argument("spec", type=click.Path(path_type=Path))
@click.option("-b", "--backend", type=BACKEND_CHOICE, default=DEFAULT_BACKEND, show_default=True)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
@guarded
def resolve(spec: Path, backend: str, fmt: str) -> None:
    """Show what goes into SPEC's image for one backend.

    Prints the selected libraries in init order with the chain that selected
    each, every parameter's value and where it came from (default or the
    `set` line), the pruned libraries with the reason, and policy verdicts.
    """
    import json

    from .report import resolution_json, resolution_text

    _session, res = _resolve_one(spec, backend, fmt)
    if fmt == "json":
        click.echo(json.dumps(resolution_json(res), indent=2, ensure_ascii=False))
    else:
        click.echo(resolution_text(res), nl=False)


@main.command()
@click.argument("spec", type=click.Path(path_type=Path))
@click.option("-b", "--backend", type=BACKEND_CHOICE, default=DEFAULT_BACKEND, show_default=True)
@click.option("--format", "fmt", type=click.Choice(["dot", "text", "json", "svg"]),
              default="dot", show_default=True,
              help="svg runs Graphviz `dot`, which must be installed.")
@click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False),
              help="Write to this file instead of stdout.")
@guarded
def graph(spec: Path, backend: str, fmt: str, output: Path | None) -> None:
    """Draw SPEC's resolved dependency graph for one backend.

    Nodes are the app and libraries; each edge is labelled with the construct
    that links them. Pruned libraries are drawn grey and dashed.
    """
    import json
    import shutil
    import subprocess

    from .report import graph_dot, graph_json, graph_text

    _session, res = _resolve_one(spec, backend, "text")
    if fmt == "json":
        data = (json.dumps(graph_json(res), indent=2, ensure_ascii=False) + "\n").encode()
    elif fmt == "text":
        data = graph_text(res).encode()
    else:
        data = graph_dot(res, res.lost).encode()
        if fmt == "svg":
            dot = shutil.which("dot")
            if dot is None:
                click.echo("error[U0200]: `--format svg` needs Graphviz's `dot`, which is not "
                           "installed\n  = help: install it (Debian: `apt-get install graphviz`), "
                           "or use `--format dot` and render it elsewhere", err=True)
                sys.exit(EXIT_ERRORS)
            proc = subprocess.run([dot, "-Tsvg"], input=data, capture_output=True, check=False)
            if proc.returncode != 0:
                click.echo(f"error[U0201]: dot failed: {proc.stderr.decode(errors='replace')}",
                           err=True)
                sys.exit(EXIT_ERRORS)
            data = proc.stdout
    if output is not None:
        from .fsutil import atomic_write

        atomic_write(output, data)
    else:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()


def _backends_declaring(spec: Path, library: str, backend: str) -> list[str]:
    """The other backends on which SPEC's program declares ``library``."""
    from .driver import Session, check_spec

    out = []
    for other in BACKENDS:
        if other == backend:
            continue
        _session, results = check_spec(spec, [other], Session())
        program = results[0].program
        if program is not None and library in program.libraries:
            out.append(other)
    return out


@main.command()
@click.argument("spec", type=click.Path(path_type=Path))
@click.argument("library")
@click.option("-b", "--backend", type=BACKEND_CHOICE, default=DEFAULT_BACKEND, show_default=True)
@guarded
def why(spec: Path, library: str, backend: str) -> None:
    """Explain why LIBRARY is, or is not, in SPEC's image for one backend.

    For a selected library, prints the shortest chain from the app to it with
    the line of each requirement. Otherwise says why it was left out: not
    reached, unsupported on the backend, or another library was chosen.
    """
    from .diagnostics import did_you_mean
    from .report import why_text

    _session, res = _resolve_one(spec, backend, "text")
    if library in res.selected:
        click.echo(why_text(res, library), nl=False)
        return
    pruned = {p.name: p.reason for p in res.pruned}
    if library in pruned:
        click.echo(f"`{library}` is not in the image for backend {backend}: {pruned[library]}")
        return
    guess = did_you_mean(library, list(res.selected) + list(pruned))
    hint = f"\n  = help: did you mean `{guess}`?" if guess else ""
    elsewhere = _backends_declaring(spec, library, backend)
    if elsewhere:
        on = ", ".join(elsewhere)
        click.echo(f"`{library}` is not in the image for backend {backend}: the library exists "
                   f"only on backend {on}\n  = help: try `-b {elsewhere[0]}`")
        return
    click.echo(f"error[U0031]: unknown library `{library}`{hint}", err=True)
    sys.exit(EXIT_ERRORS)


class _Forward(click.ParamType):
    name = "forward"

    def convert(self, value: Any, param: Any, ctx: Any) -> Any:
        from .cliargs import parse_forward

        if isinstance(value, tuple):
            return value
        parsed = parse_forward(str(value))
        if parsed is None:
            self.fail(f"`{value}` is not PROTO:HOSTPORT:GUESTPORT (udp or tcp, ports "
                      "1-65535), e.g. udp:5555:7", param, ctx)
        return parsed


FORWARD = _Forward()


class _Backends(click.ParamType):
    name = "backends"

    def convert(self, value: Any, param: Any, ctx: Any) -> Any:
        from .cliargs import parse_backends

        if isinstance(value, tuple):
            return value
        parsed = parse_backends(str(value))
        if parsed is None:
            self.fail(f"`{value}` is not a backend or a comma-separated list of backends "
                      f"(each one of {', '.join(BACKENDS)})", param, ctx)
        return parsed


def early_path_options(command: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """click options made from ``unilang.cliargs``, the grammar the early paths parse."""
    from .cliargs import MIN_TIMEOUT, OPTIONS

    def apply(fn: Callable[..., Any]) -> Callable[..., Any]:
        for o in reversed(OPTIONS[command]):
            if o.kind == "backend":
                kw: dict[str, Any] = {"type": BACKEND_CHOICE, "default": DEFAULT_BACKEND,
                                      "show_default": True}
            elif o.kind == "dir":
                kw = {"type": click.Path(path_type=Path, file_okay=False)}
            elif o.kind == "seconds":
                kw = {"type": click.FloatRange(min=MIN_TIMEOUT), "default": o.default,
                      "show_default": True}
            elif o.kind == "forward":
                kw = {"type": FORWARD, "multiple": True, "metavar": "PROTO:HOSTPORT:GUESTPORT"}
            elif o.kind == "backends":
                kw = {"type": _Backends(), "multiple": True, "default": [(DEFAULT_BACKEND,)],
                      "metavar": "[" + "|".join(BACKENDS) + "],..."}
                fn = click.option(*o.flags, o.dest, help=f"{o.help}  [default: "
                                  f"{DEFAULT_BACKEND}]", **kw)(fn)
                continue
            elif o.kind == "count":
                kw = {"type": click.IntRange(min=1), "metavar": "N"}
            elif o.kind == "backend-or-all":
                kw = {"type": BACKEND_OR_ALL, "default": o.default, "show_default": True}
            elif o.kind == "flag":
                kw = {"is_flag": True}
            else:
                kw = {"type": click.Choice(o.choices), "default": o.default,
                      "show_default": True}
            fn = click.option(*o.flags, o.dest, help=o.help, **kw)(fn)
        return fn

    return apply


@main.command()
@click.argument("spec", type=click.Path(path_type=Path))
@early_path_options("check")
@guarded
def check(spec: Path, backend: str, fmt: str, werror: bool) -> None:
    """Check SPEC for syntax, type, dependency and policy errors.

    Nothing is built. Exit status: 0 when there are no errors (warnings are
    allowed unless --werror), 1 when there are, 2 for a usage error.
    """
    from .checkcmd import check as do_check

    do_check(spec, backend, fmt, werror)


def _build_or_exit(spec: Path, backend: str, outdir: Path | None,
                   jobs: int | None = None) -> tuple[Any, Any]:
    """Build (or find up to date) SPEC's image; print diagnostics; exit 1 on failure."""
    from .build import build as do_build

    session, result = do_build(spec, backend, outdir, jobs=jobs)
    diags = session.sink.sorted()
    if diags:
        emit_diagnostics(session, diags, "text")
    if result is None:
        sys.exit(EXIT_ERRORS)
    return session, result


@main.command()
@click.argument("specs", nargs=-1, required=True, type=click.Path(path_type=Path),
                metavar="SPEC...")
@early_path_options("build")
@guarded
def build(specs: tuple[Path, ...], backend: tuple[tuple[str, ...], ...], outdir: Path | None,
          jobs: int | None) -> None:
    """Build SPEC into a sealed image and its hypervisor configurations.

    Checks and resolves the spec, then compiles only the selected libraries
    and the app (ninja), links them with the generated linker script (GNU ld),
    verifies the ELF, and writes to the output directory: <app>.elf,
    manifest.json, image.lds, build.ninja, the generated C, and the
    hypervisor configurations the backend emits (`emits` in its backend.toml,
    e.g. qemu.json, run-qemu.sh, firecracker.json, libvirt.xml, xl.cfg).
    A failed build leaves earlier outputs intact.

    Several specs and backends (`unilang build a.uni b.uni -b kvm,xen`) build
    every app for every backend through one ninja graph, in parallel, each to
    build/<app>/<backend> (DIR/<app>/<backend> with -o DIR); a failure in one
    is reported without stopping the others (exit 1).
    """
    from .multibuild import plan

    wanted, dups = plan(list(specs), [b for group in backend for b in group])
    if dups:
        from .driver import Session

        emit_diagnostics(Session(), dups, "text")
    if len(wanted.specs) > 1 or len(wanted.backends) > 1:
        from .multibuild import build_set

        sys.exit(build_set(wanted, outdir, jobs, emit_diagnostics))
    spec, backend1 = wanted.specs[0], wanted.backends[0]
    session, result = _build_or_exit(spec, backend1, outdir, jobs)
    what = "built" if result.changed else "up to date"
    click.echo(f"{what}: {result.image} ({result.manifest['size']} bytes, "
               f"{len(result.manifest['libraries'])} libraries)", err=True)


@main.command()
@click.argument("spec", type=click.Path(path_type=Path))
@early_path_options("run")
@guarded
def run(spec: Path, backend: str, outdir: Path | None, timeout: float, accel: str,
        forwards: tuple[tuple[str, int, int], ...]) -> None:
    """Build SPEC if stale and boot it under QEMU microvm.

    The guest's console is streamed to stdout and unilang exits with the
    guest's own exit code; the backend's backend.toml says how its console
    reaches stdio. A guest still running after --timeout is killed (status 124).
    """
    from .run import boot

    session, result = _build_or_exit(spec, backend, outdir)
    if sys.stdout is not None:  # None: stdout was closed when Python started
        sys.stdout.flush()
    outcome = boot(result.outdir, result.manifest, timeout, None if accel == "auto" else accel,
                   forwards=forwards)
    if outcome.problem is not None:
        p = outcome.problem
        emit_diagnostics(session, [error(p.code, p.message, notes=p.notes, help=p.help)], "text")
    sys.exit(outcome.exit_code)


@main.command()
@click.argument("spec", type=click.Path(path_type=Path))
@click.option("-b", "--backend", type=BACKEND_CHOICE, default=DEFAULT_BACKEND, show_default=True)
@click.option("--oci", "oci_dir", type=click.Path(path_type=Path, file_okay=False), required=True,
              metavar="DIR",
              help="The OCI image layout directory to write (new, empty, or one unilang wrote); "
                   "the image is named by the backend: oci:DIR:BACKEND.")
@click.option("-o", "--output", "outdir", type=click.Path(path_type=Path, file_okay=False),
              metavar="DIR", help="The build's output directory [default: "
                                  "build/<app>/<backend>].")
@click.option("--hypervisor", metavar="NAME",
              help="The monitor a runtime should boot the image with "
                   "(com.urunc.unikernel.hypervisor): one of the backend's `[oci] hypervisors` "
                   "(kvm: qemu, firecracker; xen: xen). [default: the first]")
@click.option("--revision", metavar="REV",
              help="org.opencontainers.image.revision [default: the git commit checked out "
                   "where the spec is; none outside git].")
@click.option("--unikernel-type", "unikernel_type", metavar="TYPE", default="unikraft",
              show_default=True,
              help="com.urunc.unikernel.unikernelType: how urunc starts the image "
                   "(docs/deploy.md).")
@click.option("--compression", type=click.Choice(["gzip", "none"]), default="gzip",
              show_default=True,
              help="The layer as tar+gzip, or as a plain tar (the same digest with any zlib).")
@guarded
def package(spec: Path, backend: str, oci_dir: Path, outdir: Path | None,
            hypervisor: str | None, revision: str | None, unikernel_type: str,
            compression: str) -> None:
    """Package SPEC's image as an OCI image, for container platforms.

    Builds SPEC for the backend (or reuses its up-to-date build), then writes
    an OCI image layout in DIR: one layer with the image and its hypervisor
    configurations under /unikernel/, and the annotations urunc reads
    (com.urunc.unikernel.*) beside the org.opencontainers.image.* ones. The
    index names the image by the backend, so `skopeo copy oci:DIR:kvm ...`
    finds it; packaging another backend into DIR adds it. The same spec gives
    the same digest wherever it is packaged; `created` is $SOURCE_DATE_EPOCH,
    else 1970-01-01T00:00:00Z.
    """
    import os

    from .package import Options, package as do_package

    options = Options(hypervisor=hypervisor, revision=revision, unikernel_type=unikernel_type,
                      compression=compression,
                      source_date_epoch=os.environ.get("SOURCE_DATE_EPOCH"))
    session, result = do_package(spec, backend, oci_dir, outdir, options)
    diags = session.sink.sorted()
    if diags:
        emit_diagnostics(session, diags, "text")
    if result is None:
        sys.exit(EXIT_ERRORS)
    what = "packaged" if result.changed else "up to date"
    click.echo(f"{what}: oci:{result.oci}:{result.ref} ({result.app}, hypervisor "
               f"{result.hypervisor}, layer {result.layer_size} bytes)")
    click.echo(f"digest: {result.digest}")


@main.command()
@click.argument("code")
def explain(code: str) -> None:
    """Explain a diagnostic CODE (for example U0031)."""
    from .codes import CODES, explain as explain_code

    text = explain_code(code)
    if text is None:
        from .diagnostics import did_you_mean

        guess = did_you_mean(code.upper(), CODES)
        hint = f" (did you mean {guess}?)" if guess else ""
        click.echo(f"error: unknown diagnostic code `{code}`{hint}", err=True)
        click.echo("codes: " + ", ".join(CODES), err=True)
        sys.exit(EXIT_USAGE)
    click.echo(text, nl=False)


@main.command()
@click.argument("image", type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="The description as text, or as one JSON object.")
@guarded
def inspect(image: Path, fmt: str) -> None:
    """Describe a built IMAGE from the image alone: app, backend, libraries in
    init order, parameters, policies and their run-time rules, protections,
    size and sha256, read from its manifest note (no spec, no build directory).

    When manifest.json sits beside the image it is compared with the image;
    a disagreement is error U0216 (exit 1), after the description. A file
    that is not an ELF image (U0214) or has no readable note (U0215) exits 1.
    """
    import json

    from .driver import Session
    from .imageinfo import as_json, as_text, read_image

    info, diags = read_image(image)
    if info is None:
        emit_diagnostics(Session(), diags, fmt)
    elif fmt == "json":
        doc = dict(as_json(info), diagnostics=[d.to_json() for d in diags])
        # ASCII only: what a (forged) note says cannot reach a terminal raw
        sys.stdout.write(json.dumps(doc, indent=2, ensure_ascii=True) + "\n")
    else:
        sys.stdout.write(as_text(info))
        emit_diagnostics(Session(), diags, "text")
    finish(diags)


@main.command("fmt")
@click.argument("files", nargs=-1, type=click.Path(path_type=Path))
@click.option("--check", is_flag=True,
              help="Change nothing: list the files that would change (stdout) and exit 1 if any.")
@guarded
def fmt_command(files: tuple[Path, ...], check: bool) -> None:
    """Format .uni FILES in place, in unilang's one canonical layout.

    A folder stands for every .uni file below it (hidden folders and build
    outputs skipped). Without FILES, formats the project: the folder of the
    nearest unilang.toml at or above the current one, else the current
    folder. `-` reads stdin and writes the result to stdout.

    Comments stay where they were; the meaning never changes. A file is
    written (atomically) only when its text changes. A file that does not
    parse gets its diagnostics and is left as it is. Exit status: 0 when all
    is well, 1 when a file has errors or, with --check, would change.
    """
    from .fmtfiles import format_file, project_files, project_root
    from .render import TextRenderer, use_color

    if files == (Path("-"),):
        _fmt_stdin(check)
        return
    paths: list[Path] = []
    for f in files or (project_root(Path.cwd()),):
        paths.extend(project_files(f) if f.is_dir() else [f])
    texts: dict[str, str] = {}
    r = TextRenderer(texts.get, use_color(sys.stderr))
    changed = errors = 0
    for path in paths:
        res = format_file(path, check)
        if res.text is not None:
            texts[res.name] = res.text
        for d in res.diagnostics:
            sys.stderr.write(r.render(d) + "\n")
        if res.status == "error":
            errors += 1
        elif res.status == "changed":
            changed += 1
            if check:
                click.echo(res.name)
    verb = "would be reformatted" if check else "reformatted"
    total = len(paths)
    parts = [f"{changed} of {total} file{'s' if total != 1 else ''} {verb}"]
    if errors:
        parts.append(f"{errors} left as {'it is' if errors == 1 else 'they are'} "
                     f"(errors above)")
    click.echo(", ".join(parts), err=True)
    sys.exit(EXIT_ERRORS if errors or (check and changed) else EXIT_OK)


def _fmt_stdin(check: bool) -> NoReturn:
    import hashlib

    from .fmt import format_source
    from .front.source import SourceFile, normalize_line_ends
    from .render import TextRenderer, use_color

    data = sys.stdin.buffer.read()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        d = error("U0002", f"`<stdin>` is not valid UTF-8: byte 0x{data[exc.start]:02x} "
                  f"at offset {exc.start}", help="save the file as UTF-8")
        sys.stderr.write(TextRenderer(lambda _n: None).render(d))
        sys.exit(EXIT_ERRORS)
    src = SourceFile("<stdin>", Path("<stdin>"), normalize_line_ends(text.removeprefix("\ufeff")),
                     hashlib.sha256(data).hexdigest())
    res = format_source(src)
    r = TextRenderer({"<stdin>": src.text}.get, use_color(sys.stderr))
    for d in res.diagnostics:
        sys.stderr.write(r.render(d) + "\n")
    if res.text is None:
        sys.exit(EXIT_ERRORS)
    if check:
        sys.exit(EXIT_ERRORS if res.text.encode("utf-8") != data else EXIT_OK)
    sys.stdout.write(res.text)
    sys.exit(EXIT_OK)


@main.command()
def lsp() -> None:
    """Serve the Language Server Protocol on stdin/stdout, for editors.

    Diagnostics as you type (every backend, with the chains as related
    locations and a link to each code's explanation), hover, go to definition,
    document symbols, completion and formatting. Started by the editor, not by
    hand; see docs/editors.md for VS Code, Neovim and Emacs.
    """
    import gc

    gc.enable()  # a long-lived process: the one-shot commands' shortcut does not apply
    from .lsp.server import serve  # pygls is imported by this command only

    serve()


if __name__ == "__main__":  # pragma: no cover
    main()
