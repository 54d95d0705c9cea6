"""The files a spec names: source paths, and what the build would copy (each source
and the headers beside it) confined to the declaring module's root, regular,
and within file-name limits."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from typing import Iterator

from .. import model as M
from ..front import syntax as S
from ..diagnostics import Label, Span
from ..loader import NAME_MAX, ModuleInfo
from ..units import fmt_size
from .base import Base

SOURCE_PATH = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]*(/[A-Za-z0-9_][A-Za-z0-9_.\-]*)*\Z")


class Files(Base):
    """The `sources` of a library or the app."""

    def sources(self, f: S.Field | None, info: ModuleInfo) -> tuple[M.SourceRef, ...]:
        if f is None:
            return ()
        directory = info.path.parent
        assert isinstance(f.value, S.List)
        out = []
        #: (device, inode) of each file listed so far: catches a file listed twice,
        #: also under another name (a symbolic or hard link), before ninja does
        seen: dict[tuple[int, int], M.SourceRef] = {}
        for item in f.value.items:
            assert isinstance(item, S.Str)
            p = item.value
            if not SOURCE_PATH.match(p) or any(part == ".." for part in p.split("/")):
                why, fix = path_slip(p)
                self.err("U0041", f"source path `{p}` is not allowed: {why}", item.span,
                         notes=("source paths are relative to the declaring file, use only "
                                "letters, digits, `_`, `-`, `.` and `/`, and may not contain `..`",),
                         help=fix)
                continue
            file = directory / p
            if not p.endswith((".c", ".S", ".s")):
                self.err("U0041", f"source `{p}` is not a C (.c) or assembly (.S, .s) file",
                         item.span)
                continue
            problem = source_problem(file, p, info)
            if problem is not None:
                self.err("U0041", problem[0], item.span, notes=problem[1])
                continue
            ref = M.SourceRef(p, file, item.span)
            try:
                st = file.stat()
            except OSError:
                st = None  # vanished since is_file(): the build reports it
            if st is not None:
                first = seen.setdefault((st.st_dev, st.st_ino), ref)
                if first is not ref:
                    again = ("is listed more than once" if first.path == p
                             else f"is the same file as `{first.path}`, which is listed already")
                    self.err("U0033", f"source `{p}` {again} in `{f.key}`", item.span,
                             labels=(Label(first.span, "first listed here"),),
                             help="list each source file once")
                    continue
            out.append(ref)
        # the build copies the headers beside each source: they obey the same rules
        for d, first in {(directory / s.path).parent: s for s in reversed(out)}.items():
            for message in header_problems(d, first.path, info):
                self.err("U0041", message, first.span,
                         help="the build copies every `*.h` beside a source; move or "
                              "remove this one")
        return tuple(out)

    def includes(self, f: S.Field | None, info: ModuleInfo) -> tuple[M.SourceRef, ...]:
        """The `includes` folders of a library or the app: each is a folder inside the
        module's root, named like a source path; the build copies its `*.h`."""
        if f is None:
            return ()
        directory = info.path.parent
        out: list[M.SourceRef] = []
        for p, item in folder_items(self, f, "U0041", "include folder", "includes"):
            folder = directory / p
            real = Path(os.path.realpath(folder))
            if not folder.is_dir():
                self.err("U0041", f"include folder `{p}` does not exist or is not a folder",
                         item.span, notes=(f"looked for {folder}",))
                continue
            if info.root_path is not None and not real.is_relative_to(info.root_path):
                self.err("U0041", f"include folder `{p}` resolves outside {_root_desc(info)}: "
                         f"its real path is {real}", item.span)
                continue
            problems = header_problems(folder, p, info, what="in include folder")
            for message in problems:
                self.err("U0041", message, item.span,
                         help="the build copies every `*.h` of an include folder; move or "
                              "remove this one")
            if not problems:
                out.append(M.SourceRef(p, folder, item.span))
        return tuple(out)


def folder_items(check: Base, f: S.Field, code: str, what: str,
                 key: str) -> Iterator[tuple[str, S.Str]]:
    """The folders a list key (`includes`, `files`) names, as (path, item): each
    one shaped like a source path (``code`` otherwise) and listed once (U0033)."""
    assert isinstance(f.value, S.List)
    seen: dict[str, Span] = {}
    for item in f.value.items:
        assert isinstance(item, S.Str)
        p = item.value.rstrip("/") if item.value != "/" else item.value
        if not SOURCE_PATH.match(p) or any(part == ".." for part in p.split("/")):
            why, fix = path_slip(p)
            check.err(code, f"{what} `{item.value}` is not allowed: {why}", item.span,
                      notes=(f"{what}s are relative to the declaring file, use only "
                             "letters, digits, `_`, `-`, `.` and `/`, and may not contain `..`",),
                      help=fix)
            continue
        if p in seen:
            check.err("U0033", f"{what} `{p}` is listed more than once in `{key}`", item.span,
                      labels=(Label(seen[p], "first listed here"),))
            continue
        seen[p] = item.span
        yield p, item


def path_slip(p: str) -> tuple[str, str | None]:
    """What is wrong with ``p``, a path that ``SOURCE_PATH`` refused, and a fix if
    there is a clear one."""
    parts = p.split("/")
    if p == "":
        return "it is empty", None
    if p.startswith("/"):
        return "it is absolute", "write it relative to the declaring file"
    if ".." in parts:
        return "it contains `..`", "keep the files inside the spec's folder"
    if p.startswith("./"):
        rest = p
        while rest.startswith("./"):
            rest = rest[2:]
        fixed = rest if SOURCE_PATH.match(rest) else None
        return ("it starts with `./`",
                f"write `{fixed}`" if fixed else None)
    if "" in parts:
        return "it has an empty part (`//` or a trailing `/`)", None
    if "." in parts:
        return "it contains a `.` folder", None
    bad = next((c for c in p if not (c.isascii() and (c.isalnum() or c in "_-./"))), None)
    if bad is not None:
        shown = bad if bad.isprintable() and bad != " " else f"U+{ord(bad):04X}"
        return f"it contains `{shown}`", None
    start = next((part for part in parts if not (part[0].isalnum() or part[0] == "_")), None)
    if start is None:
        return "it does not follow the path rules", None
    return f"`{start}` starts with `{start[0]}`", None


#: The longest suffix the build appends to a source's file name: its object is
#: `<name>.o` and gcc's dependency file `<name>.o.d` (build.ninja.j2).
OBJECT_SUFFIX = ".o.d"
_KINDS = {stat.S_IFDIR: "a directory", stat.S_IFIFO: "a FIFO", stat.S_IFSOCK: "a socket",
          stat.S_IFCHR: "a character device", stat.S_IFBLK: "a block device"}


def _root_desc(info: ModuleInfo) -> str:
    if info.root == "project" and info.root_path is not None and \
            (info.root_path / "unilang.toml").is_file():
        return f"the project root {info.root_path}"
    return {"project": "the spec's directory", "stdlib": "stdlib"}.get(
        info.root, f"the {info.root} folder")


def _file_problem(file: Path, what: str, info: ModuleInfo) -> str | None:
    """Why the build could not use ``file`` (named ``what`` in messages), or None.

    Without opening it: it must be a regular file (a FIFO would block the build,
    a device never end) whose real path lies inside its module's root."""
    try:
        st = os.stat(file)
    except FileNotFoundError:
        if os.path.lexists(file):
            return f"{what} is a broken link"
        return None  # the caller says what a missing file means
    except OSError as exc:
        return f"cannot read {what}: {exc.strerror or exc}"
    if not stat.S_ISREG(st.st_mode):
        kind = _KINDS.get(stat.S_IFMT(st.st_mode), "a special file")
        return f"{what} is not a regular file: it is {kind}"
    real = Path(os.path.realpath(file))
    if info.root_path is not None and not real.is_relative_to(info.root_path):
        return f"{what} resolves outside {_root_desc(info)}: its real path is {real}"
    return None


def source_problem(file: Path, rel: str, info: ModuleInfo) -> tuple[str, tuple[str, ...]] | None:
    """(message, notes) of what is wrong with the source ``rel`` (``file``), or None."""
    parts = rel.split("/")
    for part in parts[:-1]:
        if len(part.encode()) > NAME_MAX:
            return (f"source path `{rel}` has a folder name of {len(part.encode())} bytes; the "
                    f"limit is {NAME_MAX} bytes", ())
    size = len(parts[-1].encode())
    if size + len(OBJECT_SUFFIX) > NAME_MAX:
        return (f"source file name `{parts[-1]}` is {size} bytes long; the limit is "
                f"{NAME_MAX - len(OBJECT_SUFFIX)} bytes",
                (f"the build names the object `<name>.o` and its dependency file "
                 f"`<name>{OBJECT_SUFFIX}`, and a file name may have at most {NAME_MAX} bytes",))
    problem = _file_problem(file, f"source `{rel}`", info)
    if problem is None and not os.path.lexists(file):
        return f"source file `{rel}` does not exist", (f"looked for {file}",)
    return (problem, ()) if problem is not None else None


def header_problems(directory: Path, source: str, info: ModuleInfo,
                    what: str = "beside source") -> list[str]:
    """What is wrong with the headers (``*.h``) the build would copy from ``directory``,
    the folder of the source ``source`` (or the include folder, with ``what``)."""
    try:
        headers = sorted(directory.glob("*.h"))
    except OSError as exc:
        return [f"cannot list the headers {what} `{source}`: {exc.strerror or exc}"]
    out = []
    for h in headers:
        problem = _file_problem(h, f"header `{h.name}` {what} `{source}`", info)
        if problem is not None:
            out.append(problem)
    return out




#: How many problems with the entries of one sealed folder are reported one by one.
MAX_ENTRY_PROBLEMS = 10


class SealedFiles(Base):
    """The app's `files`: folders sealed read-only into the image (``unilang.sealed``)."""

    def sealed(self, f: S.Field | None,
               info: ModuleInfo) -> tuple[tuple[M.SourceRef, ...], tuple[M.SealedFile, ...]]:
        if f is None:
            return (), ()
        from .. import sealed as SF

        directory = info.path.parent
        folders: list[M.SourceRef] = []
        by_path: dict[str, M.SealedFile] = {}
        total = 0
        count_reported = total_reported = False
        for p, item in folder_items(self, f, "U0115", "sealed folder", "files"):
            folder = directory / p
            real = Path(os.path.realpath(folder))
            if not os.path.lexists(folder):
                self.err("U0115", f"sealed folder `{p}` does not exist", item.span,
                         notes=(f"looked for {folder}",),
                         help="create the folder, or remove it from `files`")
                continue
            if info.root_path is not None and not real.is_relative_to(info.root_path):
                self.err("U0115", f"sealed folder `{p}` resolves outside {_root_desc(info)}: "
                         f"its real path is {real}", item.span,
                         notes=("only files inside the root can be sealed into the image",))
                continue
            if not folder.is_dir():
                self.err("U0115", f"sealed folder `{p}` is not a folder", item.span,
                         help="`files` lists folders; put the file in a folder and list that")
                continue
            ref = M.SourceRef(p, folder, item.span)
            folders.append(ref)
            root = str(info.root_path) if info.root_path is not None else None
            problems = 0
            for e in SF.walk(str(folder), root):
                shown = p if e.rel == "." else f"{p}/{e.rel}"
                message = _entry_problem(e, shown, info)
                if message is not None:
                    problems += 1
                    if problems <= MAX_ENTRY_PROBLEMS:
                        self.err("U0116", message, item.span,
                                 notes=("every file below a sealed folder is sealed, except "
                                        "names that start with `.`",))
                    continue
                if e.kind != "file":
                    continue
                if len(e.rel.encode()) > SF.MAX_PATH:
                    self.err("U0118", f"sealed file `{shown}` has a path of "
                             f"{len(e.rel.encode())} bytes; the limit is {SF.MAX_PATH}",
                             item.span)
                    continue
                if e.size > SF.MAX_FILE_SIZE:
                    self.err("U0118", f"sealed file `{shown}` is {fmt_size(e.size)}; the limit "
                             f"is {fmt_size(SF.MAX_FILE_SIZE)} a file", item.span)
                    continue
                first = by_path.get(e.rel)
                if first is not None:
                    self.err("U0117", f"`{e.rel}` is sealed twice: as `{shown}` and as "
                             f"`{first.folder.path}/{e.rel}`", item.span,
                             labels=(Label(first.folder.span, "first sealed from here"),),
                             notes=("the folders of `files` are merged into one tree; each "
                                    "path may appear once",),
                             help="rename or remove one of the two files")
                    continue
                total += e.size
                if len(by_path) >= SF.MAX_FILES:
                    if not count_reported:
                        self.err("U0118", f"`files` seals more than {SF.MAX_FILES} files",
                                 item.span, notes=(f"the limit is {SF.MAX_FILES} files an image",))
                        count_reported = True
                    continue
                if total > SF.MAX_TOTAL_SIZE and not total_reported:
                    self.err("U0118", f"`files` seals more than {fmt_size(SF.MAX_TOTAL_SIZE)}",
                             item.span, notes=(f"the limit is {fmt_size(SF.MAX_TOTAL_SIZE)} "
                                               "of sealed files an image",))
                    total_reported = True
                by_path[e.rel] = M.SealedFile(e.rel, folder / e.rel, e.size,
                                              SF.content_type(e.rel), ref)
            if problems > MAX_ENTRY_PROBLEMS:
                self.err("U0116", f"sealed folder `{p}` has {problems - MAX_ENTRY_PROBLEMS} "
                         "more entries that cannot be sealed", item.span)
        return tuple(folders), tuple(by_path[k] for k in sorted(by_path, key=str.encode))


def _entry_problem(e: "object", shown: str, info: ModuleInfo) -> str | None:
    """Why the walk's entry ``e`` (``unilang.sealed.Entry``) cannot be sealed, or None."""
    from ..sealed import Entry

    assert isinstance(e, Entry)
    if e.kind == "name":
        name = e.rel.rsplit("/", 1)[-1]
        bad = next((c for c in name if not (c.isascii() and (c.isalnum() or c in "_.~-"))),
                   None)
        why = (f"its name contains `{bad}`" if bad is not None and bad.isprintable()
               and bad != " " else
               f"its name contains U+{ord(bad):04X}" if bad is not None
               else f"its name starts with `{name[:1]}`")
        return (f"`{shown}` cannot be sealed: {why}; sealed names use letters, digits, "
                "`_`, `-`, `.` and `~`, starting with a letter, a digit or `_`")
    if e.kind == "outside":
        return f"`{shown}` resolves outside {_root_desc(info)}: its real path is {e.real}"
    if e.kind == "special":
        try:
            kind = _KINDS.get(stat.S_IFMT(os.stat(e.real).st_mode), "a special file")
        except OSError:
            kind = "a special file"
        return f"`{shown}` is not a regular file or folder: it is {kind}"
    if e.kind == "broken":
        return f"`{shown}` is a broken link"
    if e.kind == "loop":
        return f"`{shown}` links back to a folder that contains it"
    if e.kind == "error":
        return f"cannot read `{shown}`: {e.detail}"
    if e.kind == "toomany":
        from ..sealed import MAX_ENTRIES

        return (f"`{shown}` holds more than {MAX_ENTRIES} entries; unilang stopped "
                "looking there")
    return None
