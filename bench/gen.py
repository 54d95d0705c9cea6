"""Synthetic library sets for the resolution benchmarks.

One dependency graph of N libraries (fixed seed): library I provides
construct cI and requires the constructs of up to 3 distinct, randomly
chosen *later* libraries (so the graph is acyclic), and an app requires c0.
The same graph is written three ways:

* ``one.uni``: every construct and library in one file, plus the app;
* ``split.uni`` + ``mods/m0.uni`` .. ``mods/m{M-1}.uni``: the libraries in
  M module files (contiguous blocks), imported from the spec; changing one
  module file should re-parse that file only;
* ``Kconfig`` + ``defconfig``: ``config LIBi`` / ``bool`` / ``select LIBj``
  per requirement, LIB0 set to y, for Kconfiglib.

Usage: python bench/gen.py N OUTDIR [--modules M] [--seed S]
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

SEED = 20240601
FANOUT = 3
MAIN_C = "int main(void)\n{\n    return 0;\n}\n"


def graph(n: int, seed: int = SEED, fanout: int = FANOUT) -> list[list[int]]:
    """deps[i]: the (sorted) later libraries whose constructs library i requires."""
    if n < 1:
        raise ValueError("n must be >= 1")
    rng = random.Random(seed)
    deps: list[list[int]] = []
    for i in range(n):
        later = n - 1 - i
        k = min(fanout, later)
        if k == 0:
            deps.append([])
        elif later <= 64:
            deps.append(sorted(rng.sample(range(i + 1, n), k)))
        else:
            # rejection sampling: cheap for large ranges, same distribution
            chosen: set[int] = set()
            while len(chosen) < k:
                chosen.add(rng.randint(i + 1, n - 1))
            deps.append(sorted(chosen))
    return deps


def _library(i: int, deps: list[int]) -> str:
    req = ", ".join(f"c{j}" for j in deps)
    return f"construct c{i};\nlibrary lib{i} {{ provides = [c{i}]; requires = [{req}]; }}\n"


APP = 'app bench { sources = ["main.c"]; requires = [c0]; }\n'


def write_one(out: Path, deps: list[list[int]]) -> Path:
    """The whole graph and the app in one file: OUT/one.uni."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "main.c").write_text(MAIN_C)
    parts = [f"# synthetic: {len(deps)} libraries, seed {SEED}\n", APP]
    parts.extend(_library(i, d) for i, d in enumerate(deps))
    spec = out / "one.uni"
    spec.write_text("".join(parts))
    return spec


def module_count(n: int, modules: int = 100) -> int:
    return max(1, min(modules, n))


def write_split(out: Path, deps: list[list[int]], modules: int = 100) -> tuple[Path, list[Path]]:
    """The graph in M module files under OUT/mods/, imported by OUT/split.uni."""
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
    spec.write_text("".join(f"import mods.m{k};\n" for k in range(m)) + APP)
    return spec, files


def write_kconfig(out: Path, deps: list[list[int]]) -> tuple[Path, Path]:
    """The graph as Kconfig (OUT/Kconfig) and a defconfig with CONFIG_LIB0=y."""
    out.mkdir(parents=True, exist_ok=True)
    parts = []
    for i, d in enumerate(deps):
        # LIB0 has a prompt (so the defconfig can set it) and defaults to y;
        # the others are promptless bools switched on only by `select`.
        head = f'config LIB{i}\n\tbool "lib{i}"\n\tdefault y\n' if i == 0 else f"config LIB{i}\n\tbool\n"
        parts.append(head + "".join(f"\tselect LIB{j}\n" for j in d) + "\n")
    kconfig = out / "Kconfig"
    kconfig.write_text("".join(parts))
    defconfig = out / "defconfig"
    defconfig.write_text("CONFIG_LIB0=y\n")
    return kconfig, defconfig


def touch_module(path: Path, serial: int) -> None:
    """Change a module file's content (not just its mtime): append a comment."""
    text = path.read_text()
    marker = "# touched "
    lines = [ln for ln in text.splitlines(keepends=True) if not ln.startswith(marker)]
    path.write_text("".join(lines) + f"{marker}{serial}\n")


def generate(n: int, out: Path, modules: int = 100, seed: int = SEED) -> dict[str, Path]:
    """Write every variant for N into OUT; return their paths."""
    deps = graph(n, seed)
    one = write_one(out, deps)
    split, files = write_split(out, deps, modules)
    kconfig, defconfig = write_kconfig(out, deps)
    (out / ".complete").write_text(f"{n} {modules} {seed}\n")
    return {"one": one, "split": split, "kconfig": kconfig, "defconfig": defconfig,
            "first_module": files[0], "out": out, "modules": files}


def generated(n: int, out: Path, modules: int = 100, seed: int = SEED) -> dict[str, Path]:
    """Like generate(), but reuse OUT if a complete set for the same inputs is there."""
    stamp = out / ".complete"
    if stamp.is_file() and stamp.read_text() == f"{n} {modules} {seed}\n":
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
    ap.add_argument("--modules", type=int, default=100)
    ap.add_argument("--seed", type=int, default=SEED)
    args = ap.parse_args(argv)
    paths = generate(args.n, args.out, args.modules, args.seed)
    for k, v in paths.items():
        print(f"{k}: {v}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
