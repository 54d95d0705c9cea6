"""`unilang lsp`: the language server driven over stdio as an editor drives it.

The test is its own client: JSON-RPC messages with Content-Length framing,
written and read here, every wait bounded.  The document has an emoji (two
UTF-16 code units, one code point) before the spans on its third line, so the
columns asserted are the protocol's, not unilang's.
"""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable

import pytest

from support import ROOT

TIMEOUT = 120  # seconds for any one answer (a loaded machine)

TEXT = ('# \U0001F600 greets\n'
        'app demo {\n'
        '    doc = "\U0001F600"; requires = [console.lines, code.loader]; policies = [sealed];\n'
        '    sources = ["demo.c"];\n'
        '    memory = 16 MiB\n'
        '    vcpus = 1;\n'
        '    set uart16550.baud = 9600;\n'
        '}\n')


class Client:
    """A minimal LSP client over the server's stdin and stdout."""

    def __init__(self, cwd: Path) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "unilang", "lsp"], cwd=cwd,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        self.messages: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.next_id = 0
        self.skipped: list[dict[str, Any]] = []  # messages a wait passed over
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        out = self.proc.stdout
        assert out is not None
        while True:
            headers: dict[str, str] = {}
            while True:
                line = out.readline()
                if not line:
                    self.messages.put(None)
                    return
                if not line.strip():
                    break
                key, value = line.decode("ascii").split(":", 1)
                headers[key.strip().lower()] = value.strip()
            self.messages.put(json.loads(out.read(int(headers["content-length"]))))

    def send(self, message: dict[str, Any]) -> None:
        body = json.dumps({"jsonrpc": "2.0", **message}).encode("utf-8")
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.proc.stdin.flush()

    def notify(self, method: str, params: Any) -> None:
        self.send({"method": method, "params": params})

    def request(self, method: str, params: Any) -> Any:
        self.next_id += 1
        ident = self.next_id
        self.send({"id": ident, "method": method, "params": params})
        reply = self.wait(lambda m: m.get("id") == ident and "method" not in m)
        assert "error" not in reply, reply
        return reply["result"]

    def wait(self, match: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        deadline = time.monotonic() + TIMEOUT
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("no answer from the server in time")
            try:
                m = self.messages.get(timeout=left)
            except queue.Empty:
                raise AssertionError("no answer from the server in time") from None
            if m is None:
                raise AssertionError("the server closed its output")
            if match(m):
                return m
            self.skipped.append(m)

    def diagnostics(self, uri: str) -> list[dict[str, Any]]:
        m = self.wait(lambda m: m.get("method") == "textDocument/publishDiagnostics"
                      and m["params"]["uri"] == uri)
        return m["params"]["diagnostics"]

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=TIMEOUT)
        for f in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if f is not None:
                f.close()


def rng(l1: int, c1: int, l2: int, c2: int) -> dict[str, Any]:
    return {"start": {"line": l1, "character": c1}, "end": {"line": l2, "character": c2}}


def docs_link(anchor: str) -> dict[str, str]:
    return {"href": f"{(ROOT / 'docs' / 'diagnostics.md').as_uri()}#{anchor}"}


def at(uri: str, line: int, character: int) -> dict[str, Any]:
    return {"textDocument": {"uri": uri}, "position": {"line": line, "character": character}}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "demo.c").write_text("int main(void) { return 0; }\n")
    return tmp_path


def test_session_over_stdio(project: Path) -> None:
    uri = (project / "demo.uni").as_uri()
    kvm_uart = (ROOT / "backends" / "kvm" / "lib" / "uart16550" / "uart16550.uni").as_uri()
    client = Client(project)
    try:
        init = client.request("initialize", {
            "processId": None, "rootUri": project.as_uri(),
            # offered first, and declined: every column the server sends is UTF-16
            "capabilities": {"general": {"positionEncodings": ["utf-8", "utf-16"]}}})
        caps = init["capabilities"]
        assert caps["positionEncoding"] == "utf-16"
        assert caps["textDocumentSync"]["change"] == 2  # incremental
        assert caps["hoverProvider"] and caps["definitionProvider"]
        assert caps["documentSymbolProvider"] and caps["documentFormattingProvider"]
        assert caps["completionProvider"]["triggerCharacters"] == [".", "[", " ", ","]
        assert init["serverInfo"]["name"] == "unilang"
        client.notify("initialized", {})

        # didOpen with a syntax error, which hides nothing else: the policy error
        # resolution finds, with its chain (app -> code.loader -> jit) as related
        # locations; columns are UTF-16 (code points: 68..74 and 42..53)
        client.notify("textDocument/didOpen", {"textDocument": {
            "uri": uri, "languageId": "unilang", "version": 1, "text": TEXT}})
        assert client.diagnostics(uri) == [
            {"range": rng(2, 69, 2, 75),
             "message": "policy `sealed` denies capability `code.dynamic`, which `jit` "
                        "exercises\n"
                        "note: `jit` is selected by: app demo -> code.loader -> jit\n"
                        "help: choose a provider of `code.loader` that does not exercise "
                        "`code.dynamic`, or stop requiring it",
             "severity": 1, "code": "U0107",
             "codeDescription": docs_link("u0107-policy-denies-a-capability-error"),
             "source": "unilang",
             "relatedInformation": [
                 {"location": {"uri": (ROOT / "stdlib" / "policies.uni").as_uri(),
                               "range": rng(4, 12, 4, 24)},
                  "message": "denied by policy `sealed` here"},
                 {"location": {"uri": (ROOT / "stdlib" / "lib" / "jit" / "jit.uni").as_uri(),
                               "range": rng(4, 17, 4, 29)},
                  "message": "`jit` exercises `code.dynamic` here"},
                 {"location": {"uri": uri, "range": rng(2, 43, 2, 54)},
                  "message": "app demo requires `code.loader`, which selects `jit`"}]},
            {"range": rng(5, 4, 5, 9),
             "message": 'unexpected name `vcpus`, expected ";"\n'
                        "help: every field, param, use and set ends with `;`",
             "severity": 1, "code": "U0010",
             "codeDescription": docs_link("u0010-syntax-error-error"), "source": "unilang"},
        ]

        # didChange (incremental, UTF-16 ranges) that fixes both
        client.notify("textDocument/didChange", {
            "textDocument": {"uri": uri, "version": 2},
            "contentChanges": [
                {"range": rng(4, 19, 4, 19), "text": ";"},
                {"range": rng(2, 41, 2, 54), "text": ""}]})
        assert client.diagnostics(uri) == []

        # hover: a parameter's doc and its value on the default backend, and where from
        assert client.request("textDocument/hover", at(uri, 6, 20)) == {
            "contents": {"kind": "markdown", "value":
                         "**parameter** `uart16550.baud`: int\n\n"
                         "Line speed; the UART's divisor is 115200 / baud\n\n"
                         "default: `115200`; range: `50` .. `115200`; divides `115200`\n\n"
                         "backend kvm: `9600`, set at line 7"},
            "range": rng(6, 18, 6, 22)}
        # a construct's doc, at a UTF-16 position after the emoji
        assert client.request("textDocument/hover", at(uri, 2, 31)) == {
            "contents": {"kind": "markdown", "value":
                         "**construct** `console.lines`\n\n"
                         "Write text lines to the console (unilang_puts)\n\n"
                         "declared at stdlib/core.uni:6"},
            "range": rng(2, 28, 2, 41)}

        # definition: a library, a parameter, a policy (after the emoji)
        assert client.request("textDocument/definition", at(uri, 6, 10)) == {
            "uri": kvm_uart, "range": rng(0, 8, 0, 17)}
        assert client.request("textDocument/definition", at(uri, 6, 20)) == {
            "uri": kvm_uart, "range": rng(7, 4, 7, 110)}
        assert client.request("textDocument/definition", at(uri, 2, 58)) == {
            "uri": (ROOT / "stdlib" / "policies.uni").as_uri(), "range": rng(2, 7, 2, 13)}

        # completion: the keys of an app block at the start of a member
        keys = client.request("textDocument/completion", at(uri, 6, 4))
        assert keys == {"isIncomplete": False, "items": [
            {"label": "cmdline", "kind": 5, "detail": "a string"},
            {"label": "doc", "kind": 5, "detail": "a string"},
            {"label": "entry", "kind": 5, "detail": "a name"},
            {"label": "files", "kind": 5, "detail": "a list of strings"},
            {"label": "includes", "kind": 5, "detail": "a list of strings"},
            {"label": "listens", "kind": 5, "detail": "a list of strings"},
            {"label": "memory", "kind": 5, "detail": "a size (e.g. 64 MiB)"},
            {"label": "policies", "kind": 5, "detail": "a list of names"},
            {"label": "requires", "kind": 5, "detail": "a list of names"},
            {"label": "sources", "kind": 5, "detail": "a list of strings"},
            {"label": "vcpus", "kind": 5, "detail": "an integer"},
            {"label": "device", "kind": 14},
            {"label": "set", "kind": 14},
            {"label": "use", "kind": 14}]}

        # typing `set uart16550.` breaks the block again; the rest still checks,
        # and the parameters of the library complete
        client.notify("textDocument/didChange", {
            "textDocument": {"uri": uri, "version": 3},
            "contentChanges": [{"range": rng(7, 0, 7, 0), "text": "    set uart16550.\n"}]})
        assert client.diagnostics(uri) == [
            {"range": rng(8, 0, 8, 1), "message": "unexpected `}`, expected a name",
             "severity": 1, "code": "U0010",
             "codeDescription": docs_link("u0010-syntax-error-error"), "source": "unilang"}]
        assert client.request("textDocument/completion", at(uri, 7, 18)) == {
            "isIncomplete": False, "items": [
                {"label": "baud", "kind": 6, "detail": "int",
                 "documentation": "Line speed; the UART's divisor is 115200 / baud"}]}
        # hover still works in the block that does not parse as a whole
        assert client.request("textDocument/hover", at(uri, 6, 20))["contents"]["value"] \
            .endswith("backend kvm: `9600`, set at line 7")

        symbols = client.request("textDocument/documentSymbol", {"textDocument": {"uri": uri}})
        assert [(s["name"], s["detail"], s["range"]) for s in symbols] == [
            ("demo", "app", rng(1, 0, 8, 1))]
        assert [c["name"] for c in symbols[0]["children"]] == [
            "doc", "requires", "policies", "sources", "memory", "vcpus", "set uart16550.baud"]

        assert client.request("shutdown", None) is None
        client.notify("exit", None)
        assert client.proc.wait(timeout=TIMEOUT) == 0
    finally:
        client.close()


def test_an_imported_module_over_stdio(project: Path) -> None:
    """An imported module's diagnostics are published for its own file; once it is
    open, the editor's text is what the spec sees and the module publishes its
    own; closed again, it is read from disk again."""
    (project / "parts").mkdir()
    module = project / "parts" / "extra.uni"
    module.write_text('construct x.thing "t";\nlibrary extra {\n    provides = [x.thing];\n'
                      '    requires = [consol];\n}\n')
    spec = project / "app.uni"
    spec.write_text('import parts.extra;\napp a {\n    sources = ["demo.c"];\n'
                    '    requires = [console.lines, x.thing];\n}\n')
    spec_uri, module_uri = spec.as_uri(), module.as_uri()
    unknown = {"range": rng(3, 16, 3, 22),
               "message": "unknown construct `consol`\nhelp: did you mean `console`?",
               "severity": 1, "code": "U0031",
               "codeDescription": docs_link("u0031-unknown-name-error"), "source": "unilang"}
    client = Client(project)
    try:
        client.request("initialize", {"processId": None, "capabilities": {}})
        client.notify("initialized", {})
        client.notify("textDocument/didOpen", {"textDocument": {
            "uri": spec_uri, "languageId": "unilang", "version": 1, "text": spec.read_text()}})
        assert client.diagnostics(spec_uri) == []
        assert client.diagnostics(module_uri) == [unknown]
        # go to definition of the import: the module's file
        assert client.request("textDocument/definition", at(spec_uri, 0, 10)) == {
            "uri": module_uri, "range": rng(0, 0, 0, 0)}

        # opened with another error (unsaved): its own analysis reports it, and the
        # spec's does not take it back
        edited = module.read_text().replace("[consol]", "[console, nope]")
        client.notify("textDocument/didOpen", {"textDocument": {
            "uri": module_uri, "languageId": "unilang", "version": 1, "text": edited}})
        assert client.diagnostics(module_uri) == [
            {"range": rng(3, 25, 3, 29), "message": "unknown construct `nope`",
             "severity": 1, "code": "U0031",
             "codeDescription": docs_link("u0031-unknown-name-error"), "source": "unilang"}]
        assert client.diagnostics(spec_uri) == []
        # nothing else was published for the module before a later request's answer
        client.skipped.clear()
        client.request("textDocument/documentSymbol", {"textDocument": {"uri": spec_uri}})
        assert client.skipped == []

        # closed: the spec reads it from disk again, and publishes its errors there
        client.notify("textDocument/didClose", {"textDocument": {"uri": module_uri}})
        assert client.diagnostics(module_uri) == []  # what its own analysis had published
        assert client.diagnostics(spec_uri) == []
        assert client.diagnostics(module_uri) == [unknown]

        # formatting: the spec is in unilang fmt's layout already; an unsaved,
        # unformatted module gets one edit of the whole text
        assert client.request("textDocument/formatting", {
            "textDocument": {"uri": spec_uri},
            "options": {"tabSize": 4, "insertSpaces": True}}) == []
        client.notify("textDocument/didOpen", {"textDocument": {
            "uri": module_uri, "languageId": "unilang", "version": 2,
            "text": 'library  extra{provides=[x.thing];requires=[console];}\n'
                    'construct x.thing "t";'}})
        assert client.request("textDocument/formatting", {
            "textDocument": {"uri": module_uri},
            "options": {"tabSize": 4, "insertSpaces": True}}) == [
            {"range": rng(0, 0, 1, 22),
             "newText": "library extra {\n    provides = [x.thing];\n    requires = [console];\n}\n"
                        "construct x.thing \"t\";\n"}]

        assert client.request("shutdown", None) is None
        client.notify("exit", None)
        assert client.proc.wait(timeout=TIMEOUT) == 0
    finally:
        client.close()


# ---------------------------------------------------------------- the parts, in process

def test_positions_count_utf16_units() -> None:
    from unilang.diagnostics import Span
    from unilang.lsp.positions import LineIndex

    idx = LineIndex('a\n# \U0001F600\U0001F600 x = 1;\r\nlast')
    # code-point column 6 (the `x`) is UTF-16 unit 7 after two emoji
    assert idx.to_lsp(2, 6) == (1, 7)
    assert idx.from_lsp(1, 7) == (2, 6)
    assert idx.from_lsp(1, 3) == (2, 4)  # inside the first emoji's pair: its end
    assert idx.range(Span("f", 2, 6, 2, 7)) == ((1, 7), (1, 8))
    assert idx.to_lsp(3, 5) == (2, 4)  # the CRLF is one line end
    assert idx.from_lsp(9, 0) == (3, 5)  # past the end: the end


def test_recovery_keeps_every_declaration_that_parses() -> None:
    from unilang.front.recover import Broken, parse_recovering
    from unilang.front.source import SourceFile

    text = ("construct a.one \"one\";\n"
            "library first {\n"
            "    provides = [a.one]\n"
            "    requires = [console];\n"
            "    rank = 3;\n"
            "}\n"
            "policy broken {\n"
            "    deny = [;\n"
            "construct a.two \"two\";\n")
    rec = parse_recovering(SourceFile("m.uni", Path("m.uni"), text, "0"))
    # each broken statement once; the policy has no `}`, which is reported too
    assert [(d.code, d.message, d.span.line) for d in rec.diagnostics] == [
        ("U0010", 'unexpected name `requires`, expected ";"', 4),
        ("U0010", 'unexpected `;`, expected a name, a number, a string, "]", "false" or "true"',
         8),
        ("U0010", 'unexpected end of file, expected a name, "device", "param", "set", "use" '
                  'or "}"', 9),
    ]
    assert [getattr(d, "name") for d in rec.module.decls] == ["a.one", "first", "a.two"]
    first = rec.module.decls[1]
    # the broken statements are left out; `rank` after them is kept, at its place
    assert [(m.key, m.span.line) for m in first.members] == [("rank", 5)]
    assert rec.broken == (Broken("policy", "broken", 7),)


def test_checker_diagnostics_around_a_broken_declaration(tmp_path: Path) -> None:
    from unilang.lsp.analysis import analyze

    spec = tmp_path / "app.uni"
    (tmp_path / "main.c").write_text("int main(void) { return 0; }\n")
    text = ("library helper {\n"
            "    provides = [consol];\n"
            "}\n"
            "policy strict {\n"
            "    deny = [hw.cpuid\n"
            "}\n"
            "app a {\n"
            "    sources = [\"main.c\"];\n"
            "    requires = [console.lines];\n"
            "    policies = [strict];\n"
            "    vcpus = 0;\n"
            "}\n")
    a = analyze(spec, {spec.resolve(): text})
    got = [(l.diagnostic.code, l.diagnostic.message, l.diagnostic.span.line)
           for l in a.diagnostics[spec.resolve()]]
    # before and after the broken policy; `strict` being unknown is only its absence
    assert got == [
        ("U0031", "unknown construct `consol`", 2),
        ("U0010", 'unexpected `}`, expected ",", "." or "]"', 6),
        ("U0035", "vcpus 0 is out of range", 11),
    ]


def test_chains_are_related_locations() -> None:
    from unilang.lsp import features as F
    from unilang.lsp.analysis import analyze

    spec = ROOT / "examples" / "errors" / "U0107-policy-denies-capability.uni"
    a = analyze(spec, {spec: spec.read_text()})
    (diag,) = F.diagnostics_by_uri(a)[spec.as_uri()]
    assert diag.code == "U0107"
    assert [(r.location.uri.rsplit("/", 1)[1], r.location.range.start.line,
             r.location.range.start.character, r.message)
            for r in diag.related_information] == [
        ("policies.uni", 4, 12, "denied by policy `sealed` here"),
        (spec.name, 10, 17, "`lua-jit` exercises `code.dynamic` here"),
        (spec.name, 16, 31, "app rules-engine requires `script.eval`, which selects `lua-jit`"),
    ]
    assert diag.code_description.href.endswith(
        "docs/diagnostics.md#u0107-policy-denies-a-capability-error")


def test_other_commands_do_not_import_pygls() -> None:
    code = ("import sys; from unilang import cli; "
            "print(sorted(m for m in ('pygls', 'lsprotocol', 'unilang.lsp') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         timeout=TIMEOUT, check=True)
    assert out.stdout == "[]\n"


def _analysis(tmp_path: Path, text: str, files: dict[str, str] | None = None) -> Any:
    from unilang.lsp.analysis import analyze

    (tmp_path / "main.c").write_text("int main(void) { return 0; }\n")
    for name, body in (files or {}).items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(body)
    spec = (tmp_path / "app.uni").resolve()
    spec.write_text(text)
    return analyze(spec, {spec: text})


APP = ('import parts.extra;\n'
       'app a {\n'
       '    sources = ["main.c"];\n'
       '    requires = [console.lines, x.thing];\n'
       '    policies = [production];\n'
       '    use extra for x.thing;\n'
       '    set heap.guard = canary;\n'
       '}\n')
EXTRA = ('construct x.thing "A thing";\n'
         'capability x.power "A power";\n'
         'library extra {\n'
         '    doc = "Provides the thing";\n'
         '    provides = [x.thing];\n'
         '    requires = [mem.alloc];\n'
         '    exercises = [x.power];\n'
         '}\n')


def test_hover_and_definition_of_each_kind_of_name(tmp_path: Path) -> None:
    from unilang.lsp import features as F

    a = _analysis(tmp_path, APP, {"parts/extra.uni": EXTRA})
    extra = (tmp_path / "parts" / "extra.uni").resolve()
    assert F.diagnostics_by_uri(a) == {a.path.as_uri(): []}

    def hover(line: int, ch: int) -> str | None:
        h = F.hover(a, line, ch)
        return None if h is None else h.contents.value

    def definition(line: int, ch: int) -> tuple[str, int, int] | None:
        d = F.definition(a, line, ch)
        return None if d is None else (d.uri, d.range.start.line, d.range.start.character)

    # an import leads to its module's file
    assert definition(0, 10) == (extra.as_uri(), 0, 0)
    assert hover(0, 10) == f"**module** `parts.extra`\n\n{extra}"
    # a library named by `use`, and the construct it is used for
    assert definition(5, 9) == (extra.as_uri(), 2, 8)
    assert hover(5, 9) == ("**library** `extra`\n\nProvides the thing\n\n"
                           "declared at parts/extra.uni:3\n\n"
                           "backend kvm: in the image, selected by app a -> x.thing -> extra")
    # a library reached through another, with its chain
    assert hover(6, 9).endswith("\n\nbackend kvm: in the image, selected by "
                                "app a -> x.thing -> extra -> mem.alloc -> heap")
    assert definition(5, 22) == (extra.as_uri(), 0, 10)
    assert hover(5, 22) == "**construct** `x.thing`\n\nA thing\n\ndeclared at parts/extra.uni:1"
    # a policy
    assert hover(4, 17).startswith("**policy** `production`\n\n")
    assert definition(4, 17)[0] == (ROOT / "stdlib" / "policies.uni").as_uri()
    # an enum parameter set by the app: its value and where it comes from
    assert hover(6, 14) == (
        "**parameter** `heap.guard`: enum(none, canary)\n\n"
        + _param_doc("heap", "guard") + "\n\ndefault: `none`\n\n"
        "backend kvm: `canary`, set at line 7")
    # a key: the type its value must have
    assert hover(2, 6) == "**key** `sources` of app: a list of strings"
    # the app itself
    assert definition(1, 4) == (a.path.as_uri(), 1, 4)


def _param_doc(lib: str, name: str) -> str:
    from unilang.lsp import features as F  # noqa: F401 - the same lookup hover makes

    text = (ROOT / "stdlib" / "lib" / lib / f"{lib}.uni").read_text()
    import re

    m = re.search(rf'param {name}: [^"]*"((?:[^"\\]|\\.)*)"', text)
    assert m is not None
    return m.group(1)


def test_hover_of_a_default_parameter_in_its_library(tmp_path: Path) -> None:
    from unilang.lsp import features as F
    from unilang.lsp.analysis import analyze

    spec = ROOT / "stdlib" / "lib" / "udp" / "udp.uni"
    a = analyze(spec, {spec: spec.read_text()})
    assert F.diagnostics_by_uri(a) == {spec.as_uri(): []}  # a library module: no app needed
    line = spec.read_text().splitlines().index(
        next(l for l in spec.read_text().splitlines() if "param max_sockets" in l))
    h = F.hover(a, line, 12)
    assert h is not None and h.contents.value.startswith(
        "**parameter** `udp.max_sockets`: int\n\nPorts that can be bound at once\n\n"
        "default: `8`; range: `1` .. `64`")
    # the module is not a spec: it does not resolve, and hover says so
    assert h.contents.value.endswith("backend kvm: not resolved (the spec has errors or no app)")


@pytest.mark.parametrize("line,expected", [
    ("    requires = [console.lines, ", ["boot", "code.loader", "console", "console.lines"]),
    ("    policies = [", ["offline", "production", "sealed"]),
    ("    set heap.guard = ", ["none", "canary"]),
    ("    set heap.", ["guard", "guard_exit_code", "max_size"]),
    ("    use ", ["arp", "conio", "debugcon", "dhcp"]),
    ("    requires on ", ["kvm", "xen"]),
    ("    device net0 { kind = ", ["net", "block"]),
    ("    device net0 { kind = block; ", ["format", "kind", "path", "readonly"]),
    ("    cmdline = \"a;b\"; # c { d\n    vcpus", ["cmdline", "doc", "entry", "files"]),
    ("}\n", ["app", "capability", "construct", "import", "library", "policy"]),
    ("    # set heap.", []),  # in a comment
    ('    doc = "set heap.', []),  # in a string
])
def test_completion_in_context(tmp_path: Path, line: str, expected: list[str]) -> None:
    from unilang.lsp import features as F

    head = 'app a {\n    sources = ["main.c"];\n'
    text = head + line
    a = _analysis(tmp_path, text)
    last = text.split("\n")[-1]
    labels = [i.label for i in F.completion(a, text.count("\n"), len(last)).items]
    assert labels[:len(expected)] == expected
    if not expected:
        assert labels == []


def test_completion_in_a_policy_and_a_library(tmp_path: Path) -> None:
    from unilang.lsp import features as F

    text = 'policy p {\n    deny = [hw.'
    a = _analysis(tmp_path, text)
    labels = [i.label for i in F.completion(a, 1, len("    deny = [hw.")).items]
    assert "hw.cpuid" in labels and "net.send" in labels and "console" not in labels
    text = 'library l {\n    '
    a = _analysis(tmp_path, text)
    labels = [i.label for i in F.completion(a, 1, 4).items]
    assert labels[-1] == "param" and "provides" in labels and "memory" not in labels


def test_hover_of_a_library_left_out_of_the_image(tmp_path: Path) -> None:
    from unilang.lsp import features as F

    a = _analysis(tmp_path, 'app a {\n    sources = ["main.c"];\n    requires = [console.lines];\n'
                            '    set dhcp.attempts = 5;\n}\n')
    (kvm, xen) = F.diagnostics_by_uri(a)[a.path.as_uri()]
    assert (kvm.code, kvm.message.split("\n")[0]) == (
        "U0112", "`dhcp.attempts` is set, but `dhcp` is not in the image for backend `kvm` "
                 "[backend kvm]")
    assert xen.message.split("\n")[0].endswith("[backend xen]")
    h = F.hover(a, 3, 9)
    assert h is not None and h.contents.value.endswith(
        "\n\ndeclared at stdlib/lib/dhcp/dhcp.uni:1\n\n"
        "backend kvm: not in the image: not reached from the app")
    h = F.hover(a, 3, 15)
    assert h is not None and h.contents.value.endswith(
        "\n\nbackend kvm: `dhcp` is not in the image")


# ---------------------------------------------------------------- robustness

def _shipped_specs() -> list[Path]:
    return sorted(p for p in [*(ROOT / "examples").rglob("*.uni"), *(ROOT / "stdlib").rglob("*.uni")]
                  if "\0" not in p.read_bytes().decode("latin-1"))


from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

SPECS = _shipped_specs()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(index=st.integers(0, len(SPECS) - 1), start=st.integers(0, 10_000),
       length=st.integers(0, 12), insert=st.text(alphabet='{};=[],."#/ \naxp1', max_size=4))
def test_recovery_on_edited_specs(index: int, start: int, length: int, insert: str) -> None:
    """Any edit of a shipped spec: the recovering parse never fails, every syntax
    error points into the file, and a file that parses gives parse()'s own tree."""
    from unilang.front import parse
    from unilang.front.recover import parse_recovering
    from unilang.front.source import SourceFile, normalize_line_ends

    data = SPECS[index].read_bytes().decode("utf-8", errors="replace")
    text = normalize_line_ends(data)
    at = start % (len(text) + 1)
    text = text[:at] + insert + text[at + length:]
    src = SourceFile("m.uni", Path("m.uni"), text, "0")
    rec = parse_recovering(src)
    lines = text.split("\n")
    for d in rec.diagnostics:
        assert d.span is not None and 1 <= d.span.line <= len(lines), d
    whole, errs = parse(src)
    if whole is not None:
        assert (rec.module, list(rec.diagnostics), rec.broken) == (whole, errs, ())
    else:
        assert any(d.is_error for d in rec.diagnostics)


def test_features_answer_anywhere_in_edited_specs(tmp_path: Path) -> None:
    """Hover, definition, completion and symbols at every line of a few broken
    specs (a bounded set): an answer or none, never an exception."""
    from unilang.lsp import features as F

    base = (ROOT / "examples" / "udp-echo" / "udp-echo.uni").read_text()
    edits = [base, base.replace(";", "", 2), base.replace("}", "", 1),
             base.replace("[", "", 1), base + "library\n", "app {\n" + base]
    started = time.monotonic()
    for text in edits:
        a = _analysis(tmp_path, text)
        F.diagnostics_by_uri(a)
        F.document_symbols(a)
        for line, body in enumerate(text.split("\n")):
            for ch in sorted({0, len(body) // 2, len(body), len(body) + 3}):
                F.hover(a, line, ch)
                F.definition(a, line, ch)
                F.completion(a, line, ch)
    assert time.monotonic() - started < TIMEOUT


def test_formatting_is_unilang_fmt_as_one_edit() -> None:
    from unilang.fmt import format_text
    from unilang.lsp import features as F

    text = 'app a {sources=["m.c"]; doc="\U0001F600\U0001F600";}'
    edits = F.formatting(text)
    assert edits is not None and len(edits) == 1
    edit = edits[0]
    assert edit.new_text == format_text(text).text
    # the end of the document, in UTF-16 units: the two emoji count twice
    assert (edit.range.start.line, edit.range.start.character) == (0, 0)
    assert (edit.range.end.line, edit.range.end.character) == (0, len(text) + 2)
    assert F.formatting(edit.new_text) == []
    assert F.formatting("app a {") is None  # a syntax error: nothing to apply

