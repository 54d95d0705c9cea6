"""The language server over stdio (pygls): documents in, answers out.

On every didOpen and didChange each open document is analysed again (the
changed one first: an open module that another open document imports changes
what that one sees) and its diagnostics are published: for its own URI, and
for files that are not open and have diagnostics of their own (an imported
module).  A URI that had diagnostics from a document's last analysis and has
none now gets an empty list, so nothing stale stays on screen.  Positions are
UTF-16 (the protocol's default); the server does not offer another encoding.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from lsprotocol import types as T
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol
from pygls.protocol.language_server import lsp_method
from pygls.uris import to_fs_path

from .. import __version__
from ..cache import MemoryCache
from . import features as F
from .analysis import Analysis, analyze


class Protocol(LanguageServerProtocol):
    """pygls' protocol, keeping positions in UTF-16: every range is converted by
    ``positions.LineIndex``, which counts UTF-16 units, so the server never
    agrees to the UTF-8 or UTF-32 a client may offer."""

    @lsp_method(T.INITIALIZE)
    def lsp_initialize(self, params: T.InitializeParams) -> Any:
        general = params.capabilities.general
        if general is not None:
            general.position_encodings = None
        return (yield from super().lsp_initialize(params))


class UnilangServer(LanguageServer):
    def __init__(self) -> None:
        super().__init__("unilang", __version__, protocol_cls=Protocol,
                         text_document_sync_kind=T.TextDocumentSyncKind.Incremental)
        self.cache = MemoryCache()  # modules read from disk, by content
        self.analyses: dict[str, Analysis] = {}  # by document URI
        self.published: dict[str, set[str]] = {}  # document URI -> URIs it published to

    def open_texts(self) -> dict[Path, str]:
        out = {}
        for uri, doc in self.workspace.text_documents.items():
            path = to_fs_path(uri)
            if path is not None:
                out[Path(os.path.realpath(path))] = doc.source
        return out

    def refresh(self, first: str) -> None:
        """Analyse every open document (``first`` first) and publish."""
        uris = [first] + sorted(u for u in self.workspace.text_documents if u != first)
        uris = [u for u in uris if u in self.workspace.text_documents]
        overlay = self.open_texts()
        open_paths = set(overlay)
        for uri in uris:
            path = to_fs_path(uri)
            if path is None or uri not in self.workspace.text_documents:
                continue
            try:
                analysis = analyze(Path(path), overlay, self.cache)
            except Exception as exc:  # noqa: BLE001 - the editor gets a diagnostic, not a crash
                self.analyses.pop(uri, None)
                self.publish(uri, [internal_error(exc)])
                continue
            self.analyses[uri] = analysis
            by_uri = F.diagnostics_by_uri(analysis)
            own = analysis.path.as_uri()
            now: set[str] = set()
            for target, diags in sorted(by_uri.items()):
                target_path = Path(to_fs_path(target) or "")
                if target != own and (target_path in open_paths or not diags):
                    continue  # an open document publishes its own
                self.publish(uri if target == own else target, diags)
                now.add(target)
            for stale in sorted(self.published.get(uri, set()) - now):
                if Path(to_fs_path(stale) or "") not in open_paths:  # it publishes its own
                    self.publish(stale, [])
            self.published[uri] = now

    def publish(self, uri: str, diags: list[T.Diagnostic]) -> None:
        self.text_document_publish_diagnostics(
            T.PublishDiagnosticsParams(uri=uri, diagnostics=diags))

    def forget(self, uri: str) -> None:
        self.analyses.pop(uri, None)
        for target in sorted(self.published.pop(uri, set())):
            self.publish(target, [])


def internal_error(exc: BaseException) -> T.Diagnostic:
    """U0999 at the top of the document: the analysis itself failed (a bug)."""
    import traceback

    tb = traceback.extract_tb(exc.__traceback__)
    where = f"{Path(tb[-1].filename).name}:{tb[-1].lineno}" if tb else "?"
    return T.Diagnostic(
        range=T.Range(T.Position(0, 0), T.Position(0, 0)), severity=T.DiagnosticSeverity.Error,
        code="U0999", source="unilang",
        code_description=(T.CodeDescription(url) if (url := F.explanation_url("U0999")) else None),
        message=f"internal compiler error: {type(exc).__name__}: {exc}\nnote: raised at {where}"
                "\nhelp: this is a bug in unilang; please report it with the input that "
                "triggers it")


def make_server() -> UnilangServer:
    server = UnilangServer()

    @server.feature(T.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: UnilangServer, params: T.DidOpenTextDocumentParams) -> None:
        ls.refresh(params.text_document.uri)

    @server.feature(T.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: UnilangServer, params: T.DidChangeTextDocumentParams) -> None:
        ls.refresh(params.text_document.uri)

    @server.feature(T.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: UnilangServer, params: T.DidCloseTextDocumentParams) -> None:
        ls.forget(params.text_document.uri)
        still_open = sorted(u for u in ls.workspace.text_documents
                            if u != params.text_document.uri)
        if still_open:  # they read the closed document from disk again
            ls.refresh(still_open[0])

    @server.feature(T.TEXT_DOCUMENT_HOVER)
    def hover(ls: UnilangServer, params: T.HoverParams) -> T.Hover | None:
        a = ls.analyses.get(params.text_document.uri)
        return F.hover(a, params.position.line, params.position.character) if a else None

    @server.feature(T.TEXT_DOCUMENT_DEFINITION)
    def definition(ls: UnilangServer, params: T.DefinitionParams) -> T.Location | None:
        a = ls.analyses.get(params.text_document.uri)
        return F.definition(a, params.position.line, params.position.character) if a else None

    @server.feature(T.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
    def symbols(ls: UnilangServer, params: T.DocumentSymbolParams) -> list[T.DocumentSymbol]:
        a = ls.analyses.get(params.text_document.uri)
        return F.document_symbols(a) if a else []

    @server.feature(T.TEXT_DOCUMENT_COMPLETION,
                    T.CompletionOptions(trigger_characters=[".", "[", " ", ","]))
    def completion(ls: UnilangServer, params: T.CompletionParams) -> T.CompletionList:
        a = ls.analyses.get(params.text_document.uri)
        if a is None:
            return T.CompletionList(is_incomplete=False, items=[])
        return F.completion(a, params.position.line, params.position.character)

    @server.feature(T.TEXT_DOCUMENT_FORMATTING)
    def formatting(ls: UnilangServer, params: T.DocumentFormattingParams) -> list[T.TextEdit] | None:
        doc = ls.workspace.text_documents.get(params.text_document.uri)
        return F.formatting(doc.source) if doc is not None else None

    return server


def serve() -> None:
    """Serve on stdin/stdout until the client says exit."""
    make_server().start_io()
