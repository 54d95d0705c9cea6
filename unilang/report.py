"""Presenting a resolution: `resolve` (text, JSON), `graph` (text, DOT, JSON) and `why`.

Everything here iterates in sorted or init order, never over sets, so the
output is the same bytes for the same input whatever PYTHONHASHSEED is.
"""

from __future__ import annotations

import json

from .model import PValue
from .resolve import APP, Edge, Resolution
from .units import fmt_size


def value_text(v: PValue, type_: str) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if type_ == "size" and isinstance(v, int):
        return fmt_size(v)
    if type_ == "string":
        return json.dumps(v, ensure_ascii=False)
    return str(v)


def resolution_json(res: Resolution) -> dict[str, object]:
    params: dict[str, list[dict[str, object]]] = {}
    for p in res.params:
        params.setdefault(p.library, []).append({
            "name": p.name, "type": p.type.describe(), "value": p.value, "origin": p.origin,
            "at": p.span.location, "macro": p.macro})
    libs = []
    for name in res.order:
        s = res.selected[name]
        lib = s.library
        libs.append({
            "name": name,
            "module": lib.module,
            "provides": [c.name for c in lib.provides],
            "init": lib.init.name if lib.init else None,
            "chain": list(s.chain),
            "exercises": [c.name for c in lib.exercises],
            "params": params.get(name, []),
        })
    return {
        "app": res.app.name,
        "backend": res.backend,
        "ok": res.ok,
        "libraries": libs,
        "providers": dict(sorted(res.providers.items())),
        "pruned": [{"name": p.name, "reason": p.reason} for p in res.pruned],
        "policies": [{"name": v.policy, "ok": v.ok, "findings": list(v.findings)}
                     for v in res.verdicts],
    }


def resolution_text(res: Resolution) -> str:
    out = [f"app {res.app.name}, backend {res.backend}: {len(res.order)} libraries selected, "
           f"{len(res.pruned)} pruned", "", "init order:"]
    width = max((len(n) for n in res.order), default=0)
    for i, name in enumerate(res.order, 1):
        s = res.selected[name]
        init = f" init {s.library.init.name}()" if s.library.init else ""
        out.append(f"  {i:2}. {name:<{width}}  via {' -> '.join(s.chain)}{init}")
    out += ["", "parameters:"]
    if not res.params:
        out.append("  (none)")
    for p in res.params:
        origin = "default" if p.origin == "default" else "set"
        out.append(f"  {p.library}.{p.name} = {value_text(p.value, p.type.kind)}  "
                   f"({origin} at {p.span.location})")
    out += ["", "pruned:"]
    if not res.pruned:
        out.append("  (none)")
    pw = max((len(x.name) for x in res.pruned), default=0)
    for x in res.pruned:
        out.append(f"  {x.name:<{pw}}  {x.reason}")
    if res.verdicts:
        out += ["", "policies:"]
        for v in res.verdicts:
            out.append(f"  {v.policy}: {'pass' if v.ok else 'FAIL: ' + '; '.join(v.findings)}")
    if res.net.restricts:  # what the image will enforce at run time (unilang.netrules)
        net = res.net
        out += ["", "run-time rules (network):",
                "  listen: " + ("any port" if net.listen is None
                                else ", ".join(r.text() for r in net.listen) or "no port"),
                "  peers: " + ("any address" if net.peers is None
                               else ", ".join(c.text() for c in net.peers) or "no address"),
                "  send: " + ("allowed" if net.send else "refused")]
    return "\n".join(out) + "\n"


def _unique_edges(res: Resolution) -> list[tuple[str, Edge]]:
    """Each (requirer, provider, construct) edge once, first occurrence kept,
    with the requirer as the graph names it."""
    seen: set[tuple[str, str, str]] = set()
    out = []
    for e in res.edges:
        key = (e.src, e.dst, e.construct)
        if key not in seen:
            seen.add(key)
            out.append((f"app {res.app.name}" if e.src == APP else e.src, e))
    return out


def _dot_id(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def graph_dot(res: Resolution, lost: dict[str, tuple[str, str]]) -> str:
    app_node = f"app {res.app.name}"
    out = [f"digraph {_dot_id(res.app.name + '-' + res.backend)} {{",
           "  rankdir=LR;",
           '  node [shape=box, fontname="monospace"];',
           '  edge [fontname="monospace", fontsize=10];',
           f"  {_dot_id(app_node)} [shape=doubleoctagon];"]
    for name in res.order:
        out.append(f"  {_dot_id(name)};")
    for p in res.pruned:
        out.append(f"  {_dot_id(p.name)} [style=dashed, color=grey, fontcolor=grey, "
                   f"tooltip={_dot_id(p.reason)}];")
    for src, e in _unique_edges(res):
        out.append(f"  {_dot_id(src)} -> {_dot_id(e.dst)} [label={_dot_id(e.construct)}];")
    # a pruned library that lost a provider choice hangs off the winner's requirers, dashed
    for p in res.pruned:
        if p.name not in lost:
            continue
        construct, winner = lost[p.name]
        for e in res.edges:
            if e.dst == winner and e.construct == construct:
                src = app_node if e.src == APP else e.src
                out.append(f"  {_dot_id(src)} -> {_dot_id(p.name)} [label={_dot_id(construct)}, "
                           "style=dashed, color=grey, fontcolor=grey];")
                break
    out.append("}")
    return "\n".join(out) + "\n"


def graph_text(res: Resolution) -> str:
    out = [f"app {res.app.name} ({res.backend})"]
    for src, e in _unique_edges(res):
        out.append(f"  {src} --{e.construct}--> {e.dst}")
    for p in res.pruned:
        out.append(f"  (pruned) {p.name}: {p.reason}")
    return "\n".join(out) + "\n"


def graph_json(res: Resolution) -> dict[str, object]:
    nodes: list[dict[str, object]] = [{"id": f"app {res.app.name}", "kind": "app"}]
    nodes += [{"id": n, "kind": "library", "selected": True} for n in res.order]
    nodes += [{"id": p.name, "kind": "library", "selected": False, "reason": p.reason}
              for p in res.pruned]
    edges = [{"from": src, "to": e.dst, "construct": e.construct, "at": e.span.location}
             for src, e in _unique_edges(res)]
    return {"app": res.app.name, "backend": res.backend, "nodes": nodes, "edges": edges}


def why_text(res: Resolution, name: str) -> str:
    s = res.selected[name]
    out = [f"`{name}` is in the image for backend {res.backend}:"]
    chain = s.chain
    # chain = (app X, c1, l1, c2, l2, ...): show each hop with where it was required
    by_pair = {(e.src, e.construct): e for e in res.edges}
    src = APP
    out.append(f"  {chain[0]}")
    for i in range(1, len(chain), 2):
        construct, lib = chain[i], chain[i + 1]
        e = by_pair.get((src, construct))
        at = f"  ({e.span.location})" if e else ""
        out.append(f"    requires {construct}{at}")
        out.append(f"  {lib}  (provides {construct})")
        src = lib
    return "\n".join(out) + "\n"
