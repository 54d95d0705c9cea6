"""Synthetic library sets for the resolution benchmarks.

One world of N libraries (fixed seed), shaped like a real library set:

* library I provides construct cI and requires the constructs of up to 3
  distinct *later* libraries (so the graph is acyclic); nine requirements in
  ten are *nearby* (within the next WINDOW libraries), one in ten anywhere
  later;
* every library has a doc string; about 10% (every PARAM_EVERY-th) declare a
  ranged int parameter with a doc string; about 5% (every EXERCISE_EVERY-th)
  exercise one of CAPS capabilities;
* a policy (a denied capability nobody exercises, a required construct, a
  vcpu limit), applied by the app;
* the app requires ROOTS constructs spread over the world (c0 first).

The same world is written four ways:

* ``one.uni``: everything in one file;
* ``split.uni`` + ``mods/m0.uni`` .. ``mods/m{M-1}.uni``: the constructs and
  libraries in M module files (contiguous blocks; M = N/100 by default),
  imported from the spec, which keeps the capabilities, policy and app;
  changing one module file should re-parse that file only;
* ``Kconfig`` + ``defconfig`` for Kconfiglib: ``config LIBi`` / ``bool`` /
  ``help`` / ``select LIBj`` per requirement, the parameters as ``int``
  symbols with ``range``, ``default`` and ``depends on LIBi``, capabilities
  as bool symbols the libraries exercising them ``select``, the policy's
  denied capability as the app's ``depends on !CAP_NEVER``, and the app as
  ``config APP`` (prompt, ``default y``) selecting the roots; the defconfig
  sets ``CONFIG_APP=y``;
* ``chain.uni`` (``write_chain``): a separate, degenerate world, a chain of
  N libraries each requiring the next (depth N).

Usage: python bench/gen.py N OUTDIR [--modules M] [--seed S]
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

SEED = 20240601
FANOUT = 3
WINDOW = 50  # "nearby": among the next WINDOW libraries
FAR = 0.1  # share of requirements drawn from anywhere later
PARAM_EVERY = 10  # every 10th library has a ranged parameter (10%)
EXERCISE_EVERY = 20  # every 20th exercises a capability (5%)
CAPS = 4
ROOTS = 20
LIBS_PER_MODULE = 100
#: bumped whenever the generated text changes, so stale sets are rewritten
FORMAT = 2
MAIN_C = "int main(void)\n{\n    return 0;\n}\n"


def graph(n: int, seed: int = SEED, fanout: int = FANOUT, window: int = WINDOW,
          far: float = FAR) -> list[list[int]]:
    """deps[i]: the (sorted) later libraries whose constructs library i requires."""
    if n < 1:
        raise ValueError("n must be >= 1")
    rng = random.Random(seed)
    deps: list[list[int]] = []
    for i in range(n):
        later = n - 1 - i
        k = min(fanout, later)
        chosen: set[int] = set()
        while len(chosen) < k:
            if later <= window or rng.random() >= far:
                chosen.add(rng.randint(i + 1, min(n - 1, i + window)))
            else:
                chosen.add(rng.randint(i + 1, n - 1))
        deps.append(sorted(chosen))
    return deps


def roots(n: int, count: int = ROOTS) -> list[int]:
    """The libraries whose constructs the app requires: c0, then spread evenly."""
    return sorted({k * n // count for k in range(count)})


def param(i: int) -> tuple[int, int, int] | None:
    """(default, low, high) of library i's parameter, or None."""
    if i % PARAM_EVERY != PARAM_EVERY // 2:
        return None
    low = 1 + i % 7
    high = low + 64 + (i * 37) % 4000
    return (low + (i * 13) % (high - low + 1), low, high)


def exercised(i: int) -> int | None:
    """The capability library i exercises, or None."""
    return (i // EXERCISE_EVERY) % CAPS if i % EXERCISE_EVERY == EXERCISE_EVERY // 4 else None


def _library(i: int, deps: list[int]) -> str:
    lines = [f'construct c{i};\n', f'library lib{i} {{\n',
             f'    doc = "Synthetic library {i}";\n', f'    provides = [c{i}];\n']
    if deps:
        lines.append(f"    requires = [{', '.join(f'c{j}' for j in deps)}];\n")
    cap = exercised(i)
    if cap is not None:
        lines.append(f"    exercises = [bench.cap{cap}];\n")
    pr = param(i)
    if pr is not None:
        lines.append(f'    param size: int = {pr[0]} in {pr[1]} .. {pr[2]} "Buffer size of lib{i}";\n')
    lines.append("}\n")
    return "".join(lines)


def _header(n: int) -> str:
    """Capabilities, the policy and the app (the spec's own part)."""
    caps = "".join(f'capability bench.cap{k} "Synthetic capability {k}";\n' for k in range(CAPS))
    req = ", ".join(f"c{r}" for r in roots(n))
    return (caps + 'capability bench.never "Exercised by no library";\n'
            "policy bench-policy {\n"
            '    doc = "What the bench app may do";\n'
            "    deny = [bench.never];\n"
            "    require = [c0];\n"
            "    max_vcpus = 8;\n"
            "}\n"
            "app bench {\n"
            '    doc = "The synthetic app";\n'
            '    sources = ["main.c"];\n'
            f"    requires = [{req}];\n"
            "    policies = [bench-policy];\n"
            "}\n")


def write_one(out: Path, deps: list[list[int]]) -> Path:
    """The whole world in one file: OUT/one.uni."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "main.c").write_text(MAIN_C)
    parts = [f"# synthetic: {len(deps)} libraries, seed {SEED}\n", _header(len(deps))]
    parts.extend(_library(i, d) for i, d in enumerate(deps))
    spec = out / "one.uni"
    spec.write_text("".join(parts))
    return spec


def module_count(n: int, modules: int | None = None) -> int:
    """M: N/100 module files unless told otherwise (at least 1, at most N)."""
    if modules is None:
        modules = n // LIBS_PER_MODULE
    return max(1, min(modules, n))


def write_split(out: Path, deps: list[list[int]], modules: int | None = None
                ) -> tuple[Path, list[Path]]:
    """The libraries in M module files under OUT/mods/, imported by OUT/split.uni."""
    n = len(deps)
    m = module_count(n, modules)
    out.mkdir(parents=True, exist_ok=True)
    (out / "main.c").write_text(MAIN_C)
    mods = out / "mods"
    mods.mkdir(exist_ok=True)
    for old in mods.glob("m*.uni"):
        old.unlink()
    files = []
    for k in range(m):
        lo, hi = k * n // m, (k + 1) * n // m
        path = mods / f"m{k}.uni"
        path.write_text(f"# module {k}: libraries {lo}..{hi - 1}\n"
                        + "".join(_library(i, deps[i]) for i in range(lo, hi)))
        files.append(path)
    spec = out / "split.uni"
    spec.write_text("".join(f"import mods.m{k};\n" for k in range(m)) + _header(n))
    return spec, files


def write_kconfig(out: Path, deps: list[list[int]]) -> tuple[Path, Path]:
    """The same world as Kconfig (OUT/Kconfig) and a defconfig with CONFIG_APP=y."""
    n = len(deps)
    out.mkdir(parents=True, exist_ok=True)
    parts = [f"config CAP{k}\n\tbool\n\thelp\n\t  Synthetic capability {k}.\n\n"
             for k in range(CAPS)]
    parts.append("config CAP_NEVER\n\tbool\n\thelp\n\t  Exercised by no library.\n\n")
    parts.append('config APP\n\tbool "bench app"\n\tdefault y\n\tdepends on !CAP_NEVER\n'
                 + "".join(f"\tselect LIB{r}\n" for r in roots(n))
                 + "\thelp\n\t  The synthetic app.\n\n")
    for i, d in enumerate(deps):
        # promptless bools, switched on only by `select`
        body = f"config LIB{i}\n\tbool\n" + "".join(f"\tselect LIB{j}\n" for j in d)
        cap = exercised(i)
        if cap is not None:
            body += f"\tselect CAP{cap}\n"
        body += f"\thelp\n\t  Synthetic library {i}.\n\n"
        pr = param(i)
        if pr is not None:
            body += (f'config LIB{i}_SIZE\n\tint "size"\n\trange {pr[1]} {pr[2]}\n'
                     f"\tdefault {pr[0]}\n\tdepends on LIB{i}\n"
                     f"\thelp\n\t  Buffer size of lib{i}.\n\n")
        parts.append(body)
    kconfig = out / "Kconfig"
    kconfig.write_text("".join(parts))
    defconfig = out / "defconfig"
    defconfig.write_text("CONFIG_APP=y\n")
    return kconfig, defconfig


def write_chain(n: int, out: Path) -> Path:
    """OUT/chain.uni: N libraries, each requiring the next (depth N)."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "main.c").write_text(MAIN_C)
    parts = [f"# a chain of {n} libraries\n",
             'app bench { sources = ["main.c"]; requires = [c0]; }\n']
    for i in range(n):
        req = f" requires = [c{i + 1}];" if i + 1 < n else ""
        parts.append(f"construct c{i};\nlibrary lib{i} {{ provides = [c{i}];{req} }}\n")
    spec = out / "chain.uni"
    spec.write_text("".join(parts))
    return spec


def touch_module(path: Path, serial: int) -> None:
    """Change a module file's content (not just its mtime): append a comment."""
    text = path.read_text()
    marker = "# touched "
    lines = [ln for ln in text.splitlines(keepends=True) if not ln.startswith(marker)]
    path.write_text("".join(lines) + f"{marker}{serial}\n")


def _stamp(n: int, modules: int | None, seed: int) -> str:
    return f"{n} {module_count(n, modules)} {seed} format {FORMAT}\n"


def generate(n: int, out: Path, modules: int | None = None, seed: int = SEED) -> dict[str, Path]:
    """Write every variant for N into OUT; return their paths."""
    deps = graph(n, seed)
    one = write_one(out, deps)
    split, files = write_split(out, deps, modules)
    kconfig, defconfig = write_kconfig(out, deps)
    (out / ".complete").write_text(_stamp(n, modules, seed))
    return {"one": one, "split": split, "kconfig": kconfig, "defconfig": defconfig,
            "first_module": files[0], "out": out, "modules": files}


def generated(n: int, out: Path, modules: int | None = None, seed: int = SEED) -> dict[str, Path]:
    """Like generate(), but reuse OUT if a complete set for the same inputs is there."""
    stamp = out / ".complete"
    if stamp.is_file() and stamp.read_text() == _stamp(n, modules, seed):
        m = module_count(n, modules)
        return {"one": out / "one.uni", "split": out / "split.uni",
                "kconfig": out / "Kconfig", "defconfig": out / "defconfig",
                "first_module": out / "mods" / "m0.uni", "out": out,
                "modules": [out / "mods" / f"m{k}.uni" for k in range(m)]}
    return generate(n, out, modules, seed)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("n", type=int)
    ap.add_argument("out", type=Path)
    ap.add_argument("--modules", type=int, default=None, help="module files (default N/100)")
    ap.add_argument("--seed", type=int, default=SEED)
    args = ap.parse_args(argv)
    paths = generate(args.n, args.out, args.modules, args.seed)
    for k, v in paths.items():
        print(f"{k}: {v}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
