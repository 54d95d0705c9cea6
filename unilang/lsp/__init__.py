"""The language server (``unilang lsp``): the compiler's front end, checker and
resolver, answering an editor over the Language Server Protocol.

| module | job |
|---|---|
| ``server.py`` | pygls: the protocol, open documents, publishing diagnostics |
| ``analysis.py`` | one document checked as the spec, with the editor's unsaved text |
| ``features.py`` | diagnostics, hover, definition, symbols, completion (lsprotocol types) |
| ``positions.py`` | unilang's spans <-> the protocol's UTF-16 positions, in one place |

Only the ``lsp`` command imports this package, so pygls and lsprotocol cost the
other commands nothing.  Recovery from syntax errors is in the front end:
``unilang.front.recover``.
"""
