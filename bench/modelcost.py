"""What the model's attrs classes cost a cold `unilang check`, part by part.

Issue 10 asks for a cold check of 10,000 libraries in at most Kconfiglib's
time.  This measures how much of unilang's time goes to its model being
frozen attrs classes (the house standard), against the cheapest immutable
objects Python has (a tuple built with ``tuple.__new__`` into a NamedTuple of
the same fields):

* objects: a real cold check of the bench world (``gen.py``) in this process,
  counting the attrs objects it builds by class (a profile hook on the
  generated ``__init__`` methods), then the cost of building that many of each
  class, with attrs and as tuples;
* classes: how many attrs classes the clean check path defines, times the cost
  of making one (attrs' generated methods are compiled in every process);
* import: ``import attr`` against the standard modules a check needs anyway.

    .venv/bin/python bench/modelcost.py             # the 10,000-library world
    .venv/bin/python bench/modelcost.py --n 1000    # a smaller one

Times are the best of ``--reps`` runs (time.perf_counter).  ``--part`` runs
one part; the objects and classes parts run the check first, since it is what
they count.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter, namedtuple
from pathlib import Path
from typing import Any, Callable, NamedTuple

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

import gen  # noqa: E402

GENERATED = "<attrs generated methods "  # attrs' file name for a class's methods


def best(fn: Callable[[], object], reps: int) -> float:
    """The least wall time of ``reps`` calls of ``fn``, in seconds."""
    out = float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        out = min(out, time.perf_counter() - t)
    return out


def count_objects(spec: Path) -> tuple[Counter[str], float]:
    """The attrs objects a cold check of ``spec`` (kvm) builds, by class name,
    and the check's own time (without the counting hook, fresh cache)."""
    import unilang.driver as D

    def check() -> None:
        was = os.environ.get("XDG_CACHE_HOME")
        with tempfile.TemporaryDirectory() as cache:
            os.environ["XDG_CACHE_HOME"] = cache
            try:
                s = D.Session()
                s.front_end(spec, "kvm", s.load(spec, "kvm"))
            finally:
                if was is None:
                    del os.environ["XDG_CACHE_HOME"]
                else:
                    os.environ["XDG_CACHE_HOME"] = was

    counts: Counter[str] = Counter()

    def hook(frame: Any, event: str, arg: object) -> None:
        code = frame.f_code
        if event == "call" and code.co_name == "__init__" and code.co_filename.startswith(GENERATED):
            counts[code.co_filename[len(GENERATED):-1]] += 1

    sys.setprofile(hook)
    try:
        check()
    finally:
        sys.setprofile(None)
    t = time.perf_counter()
    check()
    return counts, time.perf_counter() - t


def class_by_name(qualname: str) -> type:
    module, _, name = qualname.rpartition(".")
    __import__(module)
    return getattr(sys.modules[module], name)  # type: ignore[no-any-return]


def per_object(cls: type, n: int, reps: int) -> tuple[float, float]:
    """Seconds per object: ``cls`` built with its required fields through its
    attrs ``__init__``, and a new tuple of all its fields built into a NamedTuple."""
    import attrs

    fields = attrs.fields(cls)
    required = [None] * sum(1 for f in fields if f.default is attrs.NOTHING)
    shadow = namedtuple(cls.__name__, [f.name for f in fields], rename=True)
    values = (None,) * len(fields)
    new = tuple.__new__
    rng = range(n)

    def with_attrs() -> None:
        for _ in rng:
            cls(*required)

    def with_tuple() -> None:
        for _ in rng:
            new(shadow, (*values,))

    def floor() -> None:
        for _ in rng:
            pass

    base = best(floor, reps)
    return (best(with_attrs, reps) - base) / n, (best(with_tuple, reps) - base) / n


def attrs_classes() -> list[type]:
    """The attrs classes defined by the modules a clean check has imported."""
    import attrs

    out = []
    for name, mod in sorted(sys.modules.items()):
        if name.startswith("unilang") and mod is not None:
            out.extend(v for v in vars(mod).values()
                       if isinstance(v, type) and v.__module__ == name and attrs.has(v))
    return out


def per_class(count: int, reps: int) -> tuple[float, float]:
    """Seconds to make one frozen attrs class of six fields, and one NamedTuple."""
    import attrs

    fields = {f"f{k}": "int" for k in range(6)}

    def with_attrs() -> None:
        for i in range(count):
            attrs.frozen(type(f"C{i}", (), {"__annotations__": dict(fields)}))

    def with_tuple() -> None:
        for i in range(count):
            NamedTuple(f"C{i}", [(k, int) for k in fields])  # type: ignore[misc]

    return best(with_attrs, reps) / count, best(with_tuple, reps) / count


def import_cost(reps: int) -> float:
    """Seconds ``import attr`` adds to a process over the standard modules a
    check imports anyway (re, enum, functools, collections, pathlib, typing)."""
    need = "import re, enum, functools, collections, pathlib, typing"

    def run(code: str) -> Callable[[], object]:
        return lambda: subprocess.run([sys.executable, "-c", code], check=True)

    return best(run(need + ", attr"), reps) - best(run(need), reps)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=10_000, help="libraries in the world (default 10000)")
    ap.add_argument("--reps", type=int, default=5, help="runs per figure; the best is kept (default 5)")
    ap.add_argument("--work", type=Path, default=HERE / ".work", help="where the world is generated")
    ap.add_argument("--part", choices=("all", "objects", "classes", "import"), default="all",
                    help="run one part only (default: all)")
    args = ap.parse_args(argv)
    if args.reps < 1 or args.n < 1:
        ap.error("--n and --reps must be at least 1")
    total_attrs = total_tuple = 0.0
    counts: Counter[str] = Counter()
    if args.part != "import":
        spec = gen.generated(args.n, args.work / f"world-{args.n}")["one"].resolve()
        counts, check_s = count_objects(spec)
        print(f"cold check of {args.n:,} libraries (front end: load + check, in process): "
              f"{check_s * 1e3:.0f} ms")
    if args.part in ("all", "objects"):
        print(f"\n{'class':<32} {'objects':>8} {'attrs ns':>9} {'tuple ns':>9} "
              f"{'attrs ms':>9} {'tuple ms':>9}")
        for name, k in counts.most_common():
            a, t = per_object(class_by_name(name), max(k, 1000), args.reps)
            total_attrs += a * k
            total_tuple += t * k
            print(f"{name:<32} {k:>8,} {a * 1e9:>9.0f} {t * 1e9:>9.0f} {a * k * 1e3:>9.1f} "
                  f"{t * k * 1e3:>9.1f}")
    if args.part in ("all", "classes"):
        classes = len(attrs_classes())
        a, t = per_class(classes, args.reps)
        total_attrs += a * classes
        total_tuple += t * classes
        print(f"\n{classes} attrs classes on the check path: {a * 1e3:.2f} ms each "
              f"({a * classes * 1e3:.1f} ms); as NamedTuples {t * 1e3:.2f} ms each")
    if args.part in ("all", "import"):
        imp = import_cost(args.reps)
        total_attrs += imp
        print(f"\nimport attr, over what a check imports anyway: {imp * 1e3:.1f} ms")
    if args.part == "all":
        print(f"\nattrs in all: {total_attrs * 1e3:.0f} ms; the same as tuples: "
              f"{total_tuple * 1e3:.0f} ms; saving at most {(total_attrs - total_tuple) * 1e3:.0f} ms "
              f"(the process also pays Python's start and the resolver)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
