"""unilang's benchmarks: one command, a table on stdout, bench/results.json.

    .venv/bin/python bench/run.py                      # everything, 5 repetitions
    .venv/bin/python bench/run.py --quick              # fewer runs, small sizes
    .venv/bin/python bench/run.py --sizes 1000,10000 --only resolution,warm

Every figure is the median of several whole-process runs (subprocess +
time.perf_counter for wall time, os.wait4's rusage for the child's peak RSS),
and every comparison runs its two sides interleaved in the same invocation.
See bench/README.md for what each figure means and the targets.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import gen  # noqa: E402

SECTIONS = ("resolution", "chain", "warm", "coldstart", "build", "image", "boot", "net", "multi",
            "http")
UNIKRAFT_HELLO_BYTES = 197_280  # platform-facts: Unikraft helloworld, with DCE
UNIKRAFT_HELLO_NO_DCE_BYTES = 262_816

TARGETS = {
    "resolution_ratio": 1.0,  # unilang <= Kconfiglib's time at 10k and 100k
    "rss_ratio": 1.5,  # unilang's peak RSS <= 1.5x Kconfiglib's at 10k and 100k
    "growth_per_10x": 11.0,
    "warm_over_cold": 0.1,
    "chain_s": 2.0,  # a 20,000-deep chain checks in under 2 s
    "chain_rss_mib": 200.0,  # and under 200 MiB
    "coldstart_s": 0.150,
    "noop_build_s": 0.100,
    "image_bytes": 8 * 1024,  # issue 10 (was 16 KiB)
    "boot_ratio": 1.2,
    "run_ratio": 1.3,
    "entry_to_main_us": 100.0,
    "multi_ratio": 0.7,  # every example for both backends as one set <= 0.7x one by one
}


# --------------------------------------------------------------------------- running


class Sample:
    """One whole-process run: wall seconds, the child's peak RSS (KiB), exit code, output."""

    __slots__ = ("wall", "maxrss_kib", "rc", "stdout", "stderr")

    def __init__(self, wall: float, maxrss_kib: int, rc: int, stdout: str, stderr: str) -> None:
        self.wall = wall
        self.maxrss_kib = maxrss_kib
        self.rc = rc
        self.stdout = stdout
        self.stderr = stderr

    def __repr__(self) -> str:
        return f"Sample(wall={self.wall:.4f}, maxrss_kib={self.maxrss_kib}, rc={self.rc})"


# The children are started by a small launcher process, not by this harness:
# on Linux a child's ru_maxrss starts from the RSS high-water mark of the
# process that forked it (exec records the old mm's peak), so a child forked
# from a harness that has grown would report the harness's peak instead of
# its own.  The launcher stays small (about 10 MiB: the floor of every RSS
# figure) and does the timing too: perf_counter around fork/exec and wait4.
_LAUNCHER = r"""
import json, os, subprocess, sys, time
for line in sys.stdin:
    req = json.loads(line)
    with open(req["stdout"], "wb") as out, open(req["stderr"], "wb") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(req["argv"], stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                env=req["env"], cwd=req["cwd"])
        deadline = None if req["timeout"] is None else t0 + req["timeout"]
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG if deadline else 0)
            if pid:
                break
            if time.perf_counter() > deadline:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.0005)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
    sys.stdout.write(json.dumps({"wall": wall, "maxrss": usage.ru_maxrss,
                                 "rc": proc.returncode}) + "\n")
    sys.stdout.flush()
"""


class _Launcher:
    def __init__(self) -> None:
        self.proc: subprocess.Popen | None = None

    def run(self, req: dict) -> dict:
        if self.proc is None or self.proc.poll() is not None:
            self.proc = subprocess.Popen([sys.executable, "-I", "-S", "-c", _LAUNCHER],
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(json.dumps(req) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the launcher died running {req['argv']}")
        return json.loads(line)


_launcher = _Launcher()


def run_process(argv: list[str], env: dict[str, str] | None = None, cwd: Path | str | None = None,
                timeout: float | None = None) -> Sample:
    """Run argv to completion (through the launcher): whole-process wall time, its own peak RSS."""
    fd_out, out_path = tempfile.mkstemp(prefix="bench-out-")
    fd_err, err_path = tempfile.mkstemp(prefix="bench-err-")
    os.close(fd_out)
    os.close(fd_err)
    try:
        got = _launcher.run({"argv": [str(a) for a in argv],
                             "env": dict(os.environ) if env is None else env,
                             "cwd": None if cwd is None else str(cwd), "timeout": timeout,
                             "stdout": out_path, "stderr": err_path})
        return Sample(got["wall"], int(got["maxrss"]), got["rc"],
                      Path(out_path).read_bytes().decode("utf-8", "replace"),
                      Path(err_path).read_bytes().decode("utf-8", "replace"))
    finally:
        os.unlink(out_path)
        os.unlink(err_path)


def interleaved(tasks: list[tuple[str, Callable[[], Sample]]], reps: int) -> dict[str, list[Sample]]:
    """Run each task reps times, interleaved (A B, B A, A B ...), so drift hits both sides."""
    samples: dict[str, list[Sample]] = {name: [] for name, _ in tasks}
    for r in range(reps):
        order = tasks if r % 2 == 0 else list(reversed(tasks))
        for name, fn in order:
            samples[name].append(fn())
    return samples


def median(xs: list[float]) -> float | None:
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def summary(samples: list[Sample]) -> dict:
    """Median wall time and peak RSS of a list of runs, with every raw time."""
    return {
        "median_s": median([s.wall for s in samples]),
        "min_s": min((s.wall for s in samples), default=None),
        "max_s": max((s.wall for s in samples), default=None),
        "maxrss_kib": median([s.maxrss_kib for s in samples]),
        "runs": len(samples),
        "times_s": [round(s.wall, 6) for s in samples],
        "exit_codes": sorted({s.rc for s in samples}),
    }


def ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b == 0:
        return None
    return a / b


def unilang_argv() -> list[str]:
    """unilang as a user runs it: the venv's console script, else `python -m unilang`."""
    script = Path(sys.executable).parent / "unilang"
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    return [sys.executable, "-m", "unilang"]


def base_env(cache_home: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["XDG_CACHE_HOME"] = str(cache_home)
    env.pop("PYTHONPROFILEIMPORTTIME", None)
    return env


class CacheDirs:
    """Bench-private XDG_CACHE_HOME directories: fresh (empty) ones and one kept warm."""

    def __init__(self, work: Path) -> None:
        self.root = work / "xdg"
        self.root.mkdir(parents=True, exist_ok=True)
        self._n = 0

    def fresh(self) -> Path:
        self._n += 1
        path = self.root / f"cold-{os.getpid()}-{self._n}"
        shutil.rmtree(path, ignore_errors=True)
        path.mkdir(parents=True)
        return path

    def drop(self, path: Path) -> None:
        shutil.rmtree(path, ignore_errors=True)

    def warm(self) -> Path:
        path = self.root / "warm"
        path.mkdir(parents=True, exist_ok=True)
        return path


def have_kconfiglib() -> bool:
    probe = subprocess.run([sys.executable, "-c", "import kconfiglib"], capture_output=True)
    return probe.returncode == 0


# --------------------------------------------------------------------------- 1. resolution


def check_cold(spec: Path, caches: CacheDirs) -> Sample:
    """`unilang check SPEC --backend kvm` with an empty cache directory."""
    cache = caches.fresh()
    try:
        return run_process(unilang_argv() + ["check", str(spec), "--backend", "kvm"],
                           env=base_env(cache), cwd=spec.parent)
    finally:
        caches.drop(cache)


def kconfig_run(paths: dict[str, Path]) -> Sample:
    out = paths["out"] / ".config.out"
    return run_process([sys.executable, str(HERE / "kconfig_driver.py"), str(paths["kconfig"]),
                        str(paths["defconfig"]), str(out)], cwd=paths["out"])


def bench_resolution(sizes: list[int], reps: int, work: Path, large_reps: int | None = None,
                     log: Callable[[str], None] = print) -> list[dict]:
    """Per N: unilang check (one file, cold cache) beside Kconfiglib, interleaved."""
    caches = CacheDirs(work)
    kconf = have_kconfiglib()
    rows = []
    for n in sizes:
        r = reps if (large_reps is None or n < 100_000) else min(reps, large_reps)
        log(f"resolution N={n}: generating")
        paths = gen.generated(n, work / "gen" / str(n))
        tasks: list[tuple[str, Callable[[], Sample]]] = [
            ("unilang", lambda p=paths: check_cold(p["one"], caches))]
        if kconf:
            tasks.append(("kconfiglib", lambda p=paths: kconfig_run(p)))
        log(f"resolution N={n}: {r} run(s) each of {', '.join(t for t, _ in tasks)}")
        samples = interleaved(tasks, r)
        uni = summary(samples["unilang"])
        kc = summary(samples["kconfiglib"]) if kconf else None
        row = {"n": n, "reps": r, "unilang": uni, "kconfiglib": kc,
               "ratio": ratio(uni["median_s"], kc["median_s"]) if kc else None,
               "rss_ratio": ratio(uni["maxrss_kib"], kc["maxrss_kib"]) if kc else None,
               "unilang_ok": all(s.rc == 0 for s in samples["unilang"]),
               "kconfiglib_ok": all(s.rc == 0 for s in samples["kconfiglib"]) if kconf else None}
        if not row["unilang_ok"]:
            row["unilang_error"] = samples["unilang"][-1].stderr[-2000:]
        if kconf and not row["kconfiglib_ok"]:
            row["kconfiglib_error"] = samples["kconfiglib"][-1].stderr[-2000:]
        rows.append(row)
        log(f"  unilang {fmt_s(uni['median_s'])}  kconfiglib {fmt_s(kc['median_s']) if kc else '-'}")
    # growth per 10x between consecutive sizes that differ by 10x
    by_n = {row["n"]: row for row in rows}
    for row in rows:
        prev = by_n.get(row["n"] // 10) if row["n"] % 10 == 0 else None
        for tool in ("unilang", "kconfiglib"):
            if prev and row[tool] and prev[tool]:
                row[f"{tool}_growth"] = ratio(row[tool]["median_s"], prev[tool]["median_s"])
                row[f"{tool}_rss_growth"] = ratio(row[tool]["maxrss_kib"], prev[tool]["maxrss_kib"])
    return rows


def bench_chain(depth: int, reps: int, work: Path, log: Callable[[str], None] = print) -> dict:
    """`unilang check chain.uni` (cold cache) on a chain of DEPTH libraries, each
    requiring the next: resolution must be linear in depth."""
    caches = CacheDirs(work)
    spec = gen.write_chain(depth, work / "gen" / f"chain-{depth}")
    log(f"chain depth {depth}: {reps} run(s)")
    samples = [check_cold(spec, caches) for _ in range(reps)]
    out = summary(samples)
    out.update({"depth": depth, "ok": all(s.rc == 0 for s in samples)})
    if not out["ok"]:
        out["error"] = samples[-1].stderr[-2000:]
    return out


# --------------------------------------------------------------------------- 2. warm cache


def bench_warm(n: int, reps: int, work: Path, log: Callable[[str], None] = print,
               variants: tuple[str, ...] = ("one", "split")) -> dict:
    """Cold (empty cache) vs warm (second run) for the one-file and split variants, and
    the split variant after changing the content of one module file."""
    caches = CacheDirs(work)
    paths = gen.generated(n, work / "gen" / str(n))
    argv = unilang_argv()
    serial = [0]

    def sequence(spec: Path, touch: Path | None) -> dict[str, Sample]:
        cache = caches.fresh()
        env = base_env(cache)
        cmd = argv + ["check", str(spec), "--backend", "kvm"]
        try:
            got = {"cold": run_process(cmd, env=env, cwd=spec.parent),
                   "warm": run_process(cmd, env=env, cwd=spec.parent)}
            if touch is not None:
                serial[0] += 1
                gen.touch_module(touch, serial[0])
                got["touched"] = run_process(cmd, env=env, cwd=spec.parent)
            return got
        finally:
            caches.drop(cache)

    out: dict = {"n": n, "reps": reps, "modules": gen.module_count(n)}
    results: dict[str, dict[str, list[Sample]]] = {v: {} for v in variants}
    for r in range(reps):
        order = variants if r % 2 == 0 else tuple(reversed(variants))
        for variant in order:
            log(f"warm N={n}: {variant} run {r + 1}/{reps}")
            got = sequence(paths[variant], paths["first_module"] if variant == "split" else None)
            for k, s in got.items():
                results[variant].setdefault(k, []).append(s)
    for variant, got in results.items():
        v = {k: summary(s) for k, s in got.items()}
        v["warm_over_cold"] = ratio(v["warm"]["median_s"], v["cold"]["median_s"])
        if "touched" in v:
            v["touched_over_cold"] = ratio(v["touched"]["median_s"], v["cold"]["median_s"])
        v["ok"] = all(s.rc == 0 for ss in got.values() for s in ss)
        out[variant] = v
    return out


# --------------------------------------------------------------------------- 3. cold start


def importtime_top(k: int = 5) -> dict:
    """`python -X importtime -m unilang --help`: the top k imports by cumulative time."""
    s = run_process([sys.executable, "-X", "importtime", "-m", "unilang", "--help"])
    rows = []
    for line in s.stderr.splitlines():
        m = re.match(r"import time:\s+(\d+)\s+\|\s+(\d+)\s+\|(\s*)(\S+)", line)
        if m:
            rows.append({"module": m.group(4), "self_us": int(m.group(1)),
                         "cumulative_us": int(m.group(2)), "depth": (len(m.group(3)) - 1) // 2})
    by_cum = sorted(rows, key=lambda r: r["cumulative_us"], reverse=True)
    outside = [r for r in by_cum if not r["module"].startswith("unilang")]
    top_level = [r for r in by_cum if r["depth"] == 0]
    return {"total_us": sum(r["self_us"] for r in rows), "modules": len(rows),
            "top_cumulative": by_cum[:k], "top_cumulative_not_unilang": outside[:k],
            "top_level": top_level[:k], "top_self": sorted(rows, key=lambda r: r["self_us"],
                                                          reverse=True)[:k]}


def bench_coldstart(reps: int, work: Path, log: Callable[[str], None] = print) -> dict:
    caches = CacheDirs(work)
    warm = caches.warm()
    hello = ROOT / "examples" / "hello" / "hello.uni"
    cmd = unilang_argv() + ["check", str(hello)]
    run_process(cmd, env=base_env(warm))  # prime the grammar cache once

    def empty_cache() -> Sample:
        cache = caches.fresh()
        try:
            return run_process(cmd, env=base_env(cache))
        finally:
            caches.drop(cache)

    log(f"cold start: {reps} run(s) each")
    samples = interleaved([
        ("python_pass", lambda: run_process([sys.executable, "-c", "pass"])),
        ("check_hello", lambda: run_process(cmd, env=base_env(warm))),
        ("check_hello_empty_cache", empty_cache),
        ("help", lambda: run_process(unilang_argv() + ["--help"], env=base_env(warm))),
    ], reps)
    out = {k: summary(v) for k, v in samples.items()}
    out["check_hello"]["ok"] = all(s.rc == 0 for s in samples["check_hello"])
    out["above_floor_s"] = (out["check_hello"]["median_s"] - out["python_pass"]["median_s"])
    out["importtime"] = importtime_top(5)
    return out


# --------------------------------------------------------------------------- 4. builds


def tree_state(d: Path) -> dict[str, int]:
    """Every file below d (hidden ones too) with its mtime_ns."""
    return {str(p.relative_to(d)): p.stat().st_mtime_ns for p in sorted(d.rglob("*")) if p.is_file()}


def compile_lines(s: Sample) -> list[str]:
    return [ln for ln in (s.stdout + s.stderr).splitlines() if re.search(r"(^|\]\s)CC ", ln)]


def have_cc() -> bool:
    return shutil.which("gcc") is not None and shutil.which("ld") is not None


def bench_build(reps: int, work: Path, spec: Path | None = None, backend: str = "kvm",
                log: Callable[[str], None] = print) -> dict:
    """Full build of hello into an empty directory, then the no-op rebuild, reps times."""
    if not have_cc():
        return {"skipped": "gcc/ld not found"}
    spec = spec or ROOT / "examples" / "hello" / "hello.uni"
    caches = CacheDirs(work)
    full, noop = [], []
    recompiled, rewritten = [], []
    for r in range(reps):
        log(f"build: run {r + 1}/{reps}")
        # the build keeps its objects beside the output (a hidden sibling of
        # OUT): a fresh parent directory per run makes the full build full,
        # and the mtime check covers the objects too
        top = work / "builds" / f"hello-{backend}-{r}"
        shutil.rmtree(top, ignore_errors=True)
        out = top / "out"
        out.mkdir(parents=True)
        cmd = unilang_argv() + ["build", str(spec), "-b", backend, "-o", str(out)]
        cache = caches.fresh()  # a full build: nothing reused from any cache either
        env = base_env(cache)
        s1 = run_process(cmd, env=env)
        before = tree_state(top)
        s2 = run_process(cmd, env=env)
        after = tree_state(top)
        full.append(s1)
        noop.append(s2)
        recompiled.extend(compile_lines(s2))
        rewritten.extend(sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k)))
        shutil.rmtree(top, ignore_errors=True)
        caches.drop(cache)
    return {"backend": backend, "full": summary(full), "noop": summary(noop),
            "full_ok": all(s.rc == 0 for s in full), "noop_ok": all(s.rc == 0 for s in noop),
            "full_compiles": len(compile_lines(full[-1])) if full else None,
            "noop_recompiled": sorted(set(recompiled)), "noop_rewritten": sorted(set(rewritten)),
            "error": None if all(s.rc == 0 for s in full + noop) else (full + noop)[-1].stderr[-2000:]}


# --------------------------------------------------------------------------- 7. many specs

def example_specs(env: dict[str, str], backends: tuple[str, ...]) -> tuple[list[Path], list[str]]:
    """examples/<name>/<name>.uni that check clean on every backend; the others, and why."""
    ok, left = [], []
    for folder in sorted(p for p in (ROOT / "examples").iterdir() if p.is_dir()):
        spec = folder / f"{folder.name}.uni"
        if not spec.is_file():
            continue
        bad = [b for b in backends
               if run_process(unilang_argv() + ["check", str(spec), "-b", b], env=env).rc != 0]
        if bad:
            left.append(f"{folder.name} (does not check on {', '.join(bad)})")
        else:
            ok.append(spec)
    return ok, left


def bench_multi(reps: int, work: Path, backends: tuple[str, ...] = ("kvm", "xen"),
                log: Callable[[str], None] = print) -> dict:
    """Every example for every backend: one `unilang build A B ... -b kvm,xen` against
    one `unilang build SPEC -b BACKEND` per output, one after the other, interleaved.
    Each run starts from empty output and work trees and an empty cache dir."""
    if not have_cc():
        return {"skipped": "gcc/ld not found"}
    caches = CacheDirs(work)
    specs, left = example_specs(base_env(caches.fresh()), backends)
    top = work / "multi"
    dirs: dict[str, list[Path]] = {"one_by_one": [], "set": []}

    def fresh_dir(tag: str) -> tuple[Path, dict[str, str]]:
        d = top / f"{tag}-{len(dirs[tag])}"
        dirs[tag].append(d)
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir(parents=True)
        return d, base_env(caches.fresh())

    def one_by_one() -> Sample:
        d, env = fresh_dir("one_by_one")
        samples = [run_process(unilang_argv() + ["build", str(s), "-b", b], env=env, cwd=d)
                   for s in specs for b in backends]
        return Sample(sum(x.wall for x in samples), max(x.maxrss_kib for x in samples),
                      max(x.rc for x in samples), "".join(x.stdout for x in samples),
                      "".join(x.stderr for x in samples))

    def one_set() -> Sample:
        d, env = fresh_dir("set")
        return run_process(unilang_argv() + ["build", *map(str, specs), "-b",
                                             ",".join(backends)], env=env, cwd=d)

    log(f"multi: {len(specs)} specs x {len(backends)} backends, {reps} run(s) per side")
    samples = interleaved([("one_by_one", one_by_one), ("set", one_set)], reps)
    # the two sides must have built the same bytes
    a_dir, b_dir = dirs["one_by_one"][-1] / "build", dirs["set"][-1] / "build"
    apps = sorted(p.name for p in a_dir.iterdir() if p.is_dir() and not p.name.startswith("."))
    same = len(apps) == len(specs) and apps == sorted(
        p.name for p in b_dir.iterdir() if p.is_dir() and not p.name.startswith("."))
    for app in apps:
        for b in backends:
            ta, tb = (tree_state_bytes(x / app / b) for x in (a_dir, b_dir))
            same = same and bool(ta) and ta == tb
    shutil.rmtree(top, ignore_errors=True)
    a, b = summary(samples["one_by_one"]), summary(samples["set"])
    # each set run against the one-by-one run next to it (same load, roughly)
    pairs = [y.wall / x.wall for x, y in zip(samples["one_by_one"], samples["set"]) if x.wall]
    return {"pair_ratios": [round(r, 3) for r in pairs], "pair_ratio_median": median(pairs),
            "specs": [s.parent.name for s in specs], "left_out": left, "backends": list(backends),
            "outputs": len(specs) * len(backends), "one_by_one": a, "set": b,
            "ratio": ratio(b["median_s"], a["median_s"]), "identical_outputs": same,
            "ok": all(x.rc == 0 for x in samples["one_by_one"] + samples["set"])}


def tree_state_bytes(d: Path) -> dict[str, bytes]:
    return {str(p.relative_to(d)): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}


# --------------------------------------------------------------------------- 5. image size

_DISCOVER = r"""
import json, sys, tempfile
from pathlib import Path
from unilang.driver import check_spec
spec, backend, bench = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
sys.path.insert(0, bench)
from run import write_everything_spec
session, results = check_spec(spec, [backend])
prog = results[0].program
def checks(construct, folder):
    # the construct on its own: does hello with it check on this backend (with
    # a NIC when it needs the network, which is refused without one)?
    for net in (False, True):
        one = write_everything_spec(folder / f"{construct}-{int(net)}", [construct], net)
        sess, _ = check_spec(one, [backend])
        if not any(d.is_error for d in sess.sink.sorted()):
            return net
    return None
out = {}
with tempfile.TemporaryDirectory() as tmp:
    for lib in prog.libraries.values():
        if lib.sources and (not lib.backends or backend in lib.backends):
            provides = {}
            for r in lib.provides:
                net = checks(r.name, Path(tmp)) if r.name != "boot" else False
                if net is not None:
                    provides[r.name] = net
            out[lib.name] = provides
print(json.dumps(out))
"""


def linkable_constructs(spec: Path, backend: str, env: dict[str, str]) -> dict[str, dict[str, bool]]:
    """Libraries that have sources on this backend, with the constructs each
    provides that an app can require on this backend, each with whether it
    needs a NIC (a construct with no provider there, e.g. the network on xen,
    is left out)."""
    s = run_process([sys.executable, "-c", _DISCOVER, str(spec), backend, str(HERE)],
                    env=env)
    if s.rc != 0:
        raise RuntimeError(f"discovering libraries failed: {s.stderr[-1000:]}")
    return json.loads(s.stdout)


def resolve_json(spec: Path, backend: str, env: dict[str, str]) -> dict:
    s = run_process(unilang_argv() + ["resolve", str(spec), "-b", backend, "--format", "json"], env=env)
    return json.loads(s.stdout) if s.stdout.strip() else {"ok": False, "stderr": s.stderr[-1000:]}


def write_everything_spec(out: Path, constructs: list[str], net: bool = False) -> Path:
    """hello, but requiring every construct that a library with sources provides
    (with a NIC when one of them needs the network)."""
    out.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "examples" / "hello" / "hello.c", out / "hello.c")
    spec = out / "everything.uni"
    nic = "    device net0 { kind = net; }\n" if net else ""
    spec.write_text("# hello with pruning defeated: requires everything that has sources\n"
                    "app hello {\n    sources = [\"hello.c\"];\n"
                    f"    requires = [{', '.join(constructs)}];\n    memory = 16 MiB;\n{nic}}}\n")
    return spec


def build_image(spec: Path, backend: str, out: Path, env: dict[str, str]) -> dict:
    shutil.rmtree(out, ignore_errors=True)
    shutil.rmtree(out.parent / f".{out.name}.work", ignore_errors=True)  # the build's objects
    out.mkdir(parents=True)
    s = run_process(unilang_argv() + ["build", str(spec), "-b", backend, "-o", str(out)], env=env)
    if s.rc != 0:
        return {"ok": False, "error": (s.stdout + s.stderr)[-2000:]}
    manifest = json.loads((out / "manifest.json").read_text())
    image = out / manifest["image"]
    return {"ok": True, "bytes": image.stat().st_size, "image": str(image),
            "libraries": [lib["name"] for lib in manifest["libraries"]]}


def bench_image(work: Path, backends: tuple[str, ...] = ("kvm", "xen"),
                log: Callable[[str], None] = print) -> dict:
    if not have_cc():
        return {"skipped": "gcc/ld not found"}
    env = base_env(CacheDirs(work).warm())
    hello = ROOT / "examples" / "hello" / "hello.uni"
    out: dict = {"unikraft_hello_bytes": UNIKRAFT_HELLO_BYTES,
                 "unikraft_hello_no_dce_bytes": UNIKRAFT_HELLO_NO_DCE_BYTES, "backends": {}}
    for b in backends:
        log(f"image: {b}")
        pruned = build_image(hello, b, work / "images" / f"hello-{b}", env)
        libs = linkable_constructs(hello, b, env)
        # boot is implicit; everything else with sources is asked for by name
        needs_nic = {c: net for cs in libs.values() for c, net in cs.items()}
        constructs = sorted(set(needs_nic) - {"boot"})
        spec = write_everything_spec(work / "images" / f"everything-src-{b}", constructs,
                                     any(needs_nic[c] for c in constructs))
        res = resolve_json(spec, b, env)
        selected = {lib["name"] for lib in res.get("libraries", [])}
        everything = build_image(spec, b, work / "images" / f"everything-{b}", env)
        row = {"pruned": pruned, "everything": everything, "constructs": constructs,
               "libraries_with_sources": sorted(libs),
               "not_selected_with_sources": sorted(set(libs) - selected)}
        if pruned.get("ok") and everything.get("ok"):
            row["saving_bytes"] = everything["bytes"] - pruned["bytes"]
            row["saving_pct"] = 100.0 * row["saving_bytes"] / everything["bytes"]
        out["backends"][b] = row
    return out


# --------------------------------------------------------------------------- 6. boot


def kvm_usable() -> bool:
    """Whether `unilang run --accel auto` boots with KVM here (the same test and
    probe: /dev/kvm opens and QEMU can run a guest with it)."""
    from unilang.run import choose_accel

    qemu = qemu_binary()
    return qemu is not None and choose_accel(qemu, None, lambda _note: None)[0] == "kvm"


def qemu_binary() -> str | None:
    return shutil.which("qemu-system-x86_64")


def build_floor(work: Path) -> Path:
    """bench/floor/: the minimal PVH image that only writes the exit port."""
    out = work / "floor"
    out.mkdir(parents=True, exist_ok=True)
    obj, elf = out / "floor.o", out / "floor.elf"
    subprocess.run(["gcc", "-c", "-o", str(obj), str(HERE / "floor" / "floor.S")], check=True)
    subprocess.run(["ld", "-n", "-nostdlib", "-T", str(HERE / "floor" / "floor.lds"), "-o", str(elf),
                    str(obj)], check=True)
    return elf


def qemu_argv(build_dir: Path, accel: str, kernel: Path | None = None) -> list[str]:
    """The argv of build_dir/qemu.json with one accelerator and an absolute kernel path."""
    from unilang.kvmprobe import with_accel

    out = with_accel(json.loads((build_dir / "qemu.json").read_text()), accel)
    k = out.index("-kernel")
    out[k + 1] = str(Path(kernel or (build_dir / out[k + 1])).resolve())
    out[0] = qemu_binary() or out[0]
    return out


def bench_boot(reps: int, work: Path, log: Callable[[str], None] = print) -> dict:
    if qemu_binary() is None:
        return {"skipped": "qemu-system-x86_64 not found"}
    if not have_cc():
        return {"skipped": "gcc/ld not found"}
    accel = "kvm" if kvm_usable() else "tcg"
    env = base_env(CacheDirs(work).warm())
    hello = build_image(ROOT / "examples" / "hello" / "hello.uni", "kvm", work / "boot" / "hello", env)
    if not hello.get("ok"):
        return {"skipped": "building hello failed", "error": hello.get("error")}
    floor = build_floor(work)
    hello_dir = work / "boot" / "hello"
    hello_cmd = qemu_argv(hello_dir, accel)
    floor_cmd = qemu_argv(hello_dir, accel, kernel=floor)
    # `unilang run` of the same, up-to-date image (the arguments of its build, so the
    # early path answers), with the accelerator it picks itself: the same as `accel`.
    run_cmd = unilang_argv() + ["run", str(ROOT / "examples" / "hello" / "hello.uni"),
                                "-b", "kvm", "-o", str(hello_dir)]
    log(f"boot ({accel}): {reps} run(s) each of hello, the floor and `unilang run` of hello")
    samples = interleaved([("hello", lambda: run_process(hello_cmd, timeout=60)),
                           ("floor", lambda: run_process(floor_cmd, timeout=60)),
                           ("run", lambda: run_process(run_cmd, env=env, timeout=60))], reps)
    out: dict = {"accel": accel, "hello": summary(samples["hello"]), "floor": summary(samples["floor"]),
                 "run": summary(samples["run"]), "floor_bytes": floor.stat().st_size,
                 "argv": hello_cmd, "run_argv": run_cmd}
    out["ratio"] = ratio(out["hello"]["median_s"], out["floor"]["median_s"])
    out["run_ratio"] = ratio(out["run"]["median_s"], out["hello"]["median_s"])
    out["run_output_ok"] = all("Hello from unilang!" in s.stdout and s.rc == 0
                               for s in samples["run"])
    out["hello_output_ok"] = all("Hello from unilang!" in s.stdout and s.rc == 1
                                 for s in samples["hello"])
    out["floor_exit_ok"] = all(s.rc == 1 for s in samples["floor"])
    # the runtime's own entry-to-main time, from examples/stats's own report
    stats = build_image(ROOT / "examples" / "stats" / "stats.uni", "kvm", work / "boot" / "stats", env)
    if stats.get("ok"):
        cmd = qemu_argv(work / "boot" / "stats", accel)
        us = []
        for r in range(reps):
            s = run_process(cmd, timeout=60)
            m = re.search(r"boot: entry to main in (\d+) us", s.stdout)
            if m:
                us.append(int(m.group(1)))
        out["entry_to_main_us"] = {"median": median(us), "values": us, "accel": accel,
                                   "meaningful": accel == "kvm"}
    else:
        out["entry_to_main_us"] = {"error": stats.get("error")}
    return out


def _bench_net(reps: int, work: Path, log: Callable[[str], None] = print) -> dict:
    """bench/netbench.py: udp-echo's first echo beside hello's boot, round trips, size."""
    if qemu_binary() is None:
        return {"skipped": "qemu-system-x86_64 not found"}
    if not have_cc():
        return {"skipped": "gcc/ld not found"}
    from netbench import bench_net

    return bench_net(reps, work, log, build_image=build_image, qemu_argv=qemu_argv, root=ROOT,
                     env=base_env(CacheDirs(work).warm()),
                     accels=["tcg", "kvm"] if kvm_usable() else ["tcg"])


def _bench_http(reps: int, work: Path, log: Callable[[str], None] = print) -> dict:
    """bench/httpbench.py: examples/http's first response beside hello's boot, wrk, size."""
    if qemu_binary() is None:
        return {"skipped": "qemu-system-x86_64 not found"}
    if not have_cc():
        return {"skipped": "gcc/ld not found"}
    from httpbench import bench_http

    return bench_http(reps, work, log, build_image=build_image, qemu_argv=qemu_argv, root=ROOT,
                      env=base_env(CacheDirs(work).warm()),
                      accels=["kvm", "tcg"] if kvm_usable() else ["tcg"])


# --------------------------------------------------------------------------- report


def machine() -> dict:
    model = None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    qemu = None
    if qemu_binary():
        v = subprocess.run([qemu_binary(), "--version"], capture_output=True, text=True)
        qemu = v.stdout.splitlines()[0] if v.stdout else None
    return {"nproc": os.cpu_count(), "cpu": model, "accel": "kvm" if kvm_usable() else "tcg",
            "python": platform.python_version(), "platform": platform.platform(), "qemu": qemu,
            "date": time.strftime("%Y-%m-%d %H:%M:%S")}


def fmt_s(x: float | None) -> str:
    if x is None:
        return "-"
    if x < 1:
        return f"{x * 1000:.1f} ms"
    return f"{x:.2f} s"


def fmt_x(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}x"


def fmt_mib(kib: float | None) -> str:
    return "-" if kib is None else f"{kib / 1024:.0f} MiB"


def verdict(ok: bool | None) -> str:
    return "-" if ok is None else ("met" if ok else "MISSED")


def render(results: dict) -> str:
    """The results as markdown tables (stdout and bench/README.md)."""
    T = TARGETS
    lines: list[str] = []
    m = results.get("machine", {})
    lines.append(f"Machine: {m.get('nproc')} CPUs, {m.get('cpu')}, {m.get('accel', '?').upper()}, "
                 f"Python {m.get('python')}; repetitions {results.get('config', {}).get('reps')}")
    for name in SECTIONS:
        if isinstance(results.get(name), dict) and "skipped" in results[name] and name in (
                "resolution", "warm", "coldstart"):
            lines += ["", f"### {name}: skipped ({results[name]['skipped']})"]
            results = {k: v for k, v in results.items() if k != name}
    res = results.get("resolution")
    if res:
        lines += ["", "### 1. Resolution scaling (`unilang check one.uni --backend kvm`, cold cache, "
                  "vs Kconfiglib load + write .config)", "",
                  "| N | runs | unilang | peak RSS | Kconfiglib | peak RSS | time ratio | "
                  "target <= 1.0 | RSS ratio | target <= 1.5 | unilang growth /10x | "
                  "Kconfiglib growth /10x | target <= 11x |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for row in res:
            kc = row["kconfiglib"] or {}
            rt = row["ratio"]
            g = row.get("unilang_growth")
            lines.append(
                f"| {row['n']:,} | {row['reps']} | {fmt_s(row['unilang']['median_s'])} | "
                f"{fmt_mib(row['unilang']['maxrss_kib'])} | {fmt_s(kc.get('median_s'))} | "
                f"{fmt_mib(kc.get('maxrss_kib'))} | {fmt_x(rt)} | "
                f"{verdict(None if rt is None or row['n'] < 10_000 else rt <= T['resolution_ratio'])} | "
                f"{fmt_x(row.get('rss_ratio'))} | "
                f"{verdict(None if row.get('rss_ratio') is None or row['n'] < 10_000 else row['rss_ratio'] <= T['rss_ratio'])} | "
                f"{fmt_x(g)} | {fmt_x(row.get('kconfiglib_growth'))} | "
                f"{verdict(None if g is None else g <= T['growth_per_10x'])} |")
    ch = results.get("chain")
    if ch and "skipped" not in ch:
        cm = ch["maxrss_kib"] / 1024 if ch.get("maxrss_kib") else None
        lines += ["", f"### 1b. A chain of {ch['depth']:,} libraries, each requiring the next "
                  "(`unilang check chain.uni`, cold cache)", "",
                  "| runs | median | peak RSS | target < 2 s and < 200 MiB |", "|---|---|---|---|",
                  f"| {ch['runs']} | {fmt_s(ch['median_s'])} | {fmt_mib(ch['maxrss_kib'])} | "
                  f"{verdict(ch['ok'] and ch['median_s'] < T['chain_s'] and cm is not None and cm < T['chain_rss_mib'])} |"]
    w = results.get("warm")
    if w:
        lines += ["", f"### 2. Parse cache at N={w['n']:,} ({w['reps']} run(s); split = "
                  f"{w['modules']} module files)", "",
                  "| variant | cold (empty cache) | warm (2nd run) | warm/cold | target <= 0.1 | "
                  "one module changed | changed/cold |", "|---|---|---|---|---|---|---|"]
        for variant in ("one", "split"):
            if variant not in w:
                continue
            v = w[variant]
            t = v.get("touched")
            lines.append(f"| {variant} | {fmt_s(v['cold']['median_s'])} | {fmt_s(v['warm']['median_s'])} | "
                         f"{fmt_x(v['warm_over_cold'])} | "
                         f"{verdict(None if v['warm_over_cold'] is None else v['warm_over_cold'] <= T['warm_over_cold'])} | "
                         f"{fmt_s(t['median_s']) if t else '-'} | {fmt_x(v.get('touched_over_cold'))} |")
    c = results.get("coldstart")
    if c:
        ch = c["check_hello"]["median_s"]
        lines += ["", "### 3. Cold start", "", "| command | median | peak RSS | target |", "|---|---|---|---|",
                  f"| `python -c pass` (floor) | {fmt_s(c['python_pass']['median_s'])} | "
                  f"{fmt_mib(c['python_pass']['maxrss_kib'])} | |",
                  f"| `unilang check examples/hello/hello.uni` | {fmt_s(ch)} | "
                  f"{fmt_mib(c['check_hello']['maxrss_kib'])} | <= 150 ms: {verdict(ch <= T['coldstart_s'])} |",
                  f"| same, empty cache dir | {fmt_s(c['check_hello_empty_cache']['median_s'])} | "
                  f"{fmt_mib(c['check_hello_empty_cache']['maxrss_kib'])} | |",
                  f"| `unilang --help` | {fmt_s(c['help']['median_s'])} | {fmt_mib(c['help']['maxrss_kib'])} | |",
                  "", f"`python -X importtime -m unilang --help`: {c['importtime']['modules']} modules, "
                  f"{c['importtime']['total_us'] / 1000:.0f} ms of import in all. Top 5 by cumulative time "
                  "(top-level imports, then the top 5 outside unilang):", "",
                  "| import | cumulative | self |", "|---|---|---|"]
        for r in c["importtime"]["top_level"] + c["importtime"]["top_cumulative_not_unilang"]:
            lines.append(f"| {r['module']} | {r['cumulative_us'] / 1000:.1f} ms | {r['self_us'] / 1000:.1f} ms |")
    b = results.get("build")
    if b:
        lines += ["", "### 4. Builds (hello, kvm)", ""]
        if "skipped" in b:
            lines.append(f"skipped: {b['skipped']}")
        else:
            nt = b["noop"]["median_s"]
            lines += ["| build | median | result |", "|---|---|---|",
                      f"| full, empty output dir | {fmt_s(b['full']['median_s'])} | "
                      f"{b['full_compiles']} compile steps |",
                      f"| no-op rebuild | {fmt_s(nt)} | <= 100 ms: {verdict(nt <= T['noop_build_s'])}; "
                      f"recompiled: {len(b['noop_recompiled'])} "
                      f"({verdict(not b['noop_recompiled'])}); outputs rewritten: "
                      f"{', '.join(b['noop_rewritten']) or 'none'} ({verdict(not b['noop_rewritten'])}) |"]
    im = results.get("image")
    if im:
        lines += ["", "### 5. Image size (hello)", ""]
        if "skipped" in im:
            lines.append(f"skipped: {im['skipped']}")
        else:
            lines += ["| image | bytes | target <= 8 KiB |", "|---|---|---|"]
            for bk, row in im["backends"].items():
                p, e = row["pruned"], row["everything"]
                pb = p.get("bytes")
                lines.append(f"| hello, {bk}, pruned ({len(p.get('libraries', []))} libraries) | "
                             f"{pb:,} | {verdict(pb <= T['image_bytes']) if pb else 'build failed'} |")
                lines.append(f"| hello, {bk}, everything linked ({len(e.get('libraries', []))} libraries) | "
                             f"{e['bytes']:,} | |" if e.get("ok") else f"| hello, {bk}, everything | build failed | |")
                if "saving_bytes" in row:
                    lines.append(f"| saving from pruning, {bk} | {row['saving_bytes']:,} "
                                 f"({row['saving_pct']:.0f}%) | |")
            lines.append(f"| Unikraft helloworld (EuroSys'21), with DCE / without | "
                         f"{im['unikraft_hello_bytes']:,} / {im['unikraft_hello_no_dce_bytes']:,} | reference |")
    bo = results.get("boot")
    if bo:
        lines += ["", "### 6. Boot (QEMU microvm)", ""]
        if "skipped" in bo:
            lines.append(f"skipped: {bo['skipped']}")
        else:
            e2m = bo.get("entry_to_main_us", {})
            med = e2m.get("median")
            lines += [f"| image ({bo['accel']}) | median start-to-exit | target |", "|---|---|---|",
                      f"| floor (writes the exit port only, {bo['floor_bytes']} B) | "
                      f"{fmt_s(bo['floor']['median_s'])} | |",
                      f"| hello | {fmt_s(bo['hello']['median_s'])} | ratio {fmt_x(bo['ratio'])}, <= 1.2x: "
                      f"{verdict(bo['ratio'] <= T['boot_ratio'] if bo['ratio'] else None)} |",
                      *([f"| `unilang run` of the up-to-date hello | {fmt_s(bo['run']['median_s'])} | "
                         f"{fmt_x(bo['run_ratio'])} of QEMU alone on hello, <= 1.3x: "
                         f"{verdict(bo['run_ratio'] <= T['run_ratio'] if bo['run_ratio'] else None)} |"]
                        if bo.get("run") else []),
                      f"| stats: PVH entry to main (TSC) | {'-' if med is None else f'{med:.0f} us'} | "
                      f"<= 100 us: {verdict(med <= T['entry_to_main_us'] if med is not None and e2m.get('meaningful') else None)} |"]
    mu = results.get("multi")
    if mu:
        lines += ["", "### 7. Many specs in one build (every example, every backend)", ""]
        if "skipped" in mu:
            lines.append(f"skipped: {mu['skipped']}")
        else:
            r = mu["ratio"]
            lines += [f"{', '.join(mu['specs'])} for {', '.join(mu['backends'])}: "
                      f"{mu['outputs']} outputs, from empty output dirs and an empty cache "
                      f"dir each run" + (f"; left out: {', '.join(mu['left_out'])}"
                                         if mu["left_out"] else "") + ".", "",
                      "| build | runs | median | min | max |", "|---|---|---|---|---|",
                      *[f"| {label} | {mu[k]['runs']} | {fmt_s(mu[k]['median_s'])} | "
                        f"{fmt_s(mu[k]['min_s'])} | {fmt_s(mu[k]['max_s'])} |"
                        for label, k in (("one by one (`unilang build SPEC -b B` per output)",
                                          "one_by_one"),
                                         ("one set (`unilang build A B ... -b kvm,xen`)",
                                          "set"))],
                      "", f"set / one by one (medians): {fmt_x(r)}, target <= 0.7x: "
                      f"{verdict(None if r is None else r <= T['multi_ratio'])}; "
                      f"outputs byte-identical: {'yes' if mu['identical_outputs'] else 'NO'}; "
                      f"all exit 0: {'yes' if mu['ok'] else 'NO'}",
                      *([f"run by run (each set run / the one-by-one run beside it): "
                         f"{', '.join(f'{x:.2f}x' for x in mu['pair_ratios'])}; median "
                         f"{fmt_x(mu['pair_ratio_median'])}"] if mu.get("pair_ratios") else [])]
    from httpbench import render_http

    lines += render_http(results.get("http"))
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=None, help="runs per figure (default 5; 2 with --quick)")
    ap.add_argument("--large-reps", type=int, default=None,
                    help="cap on runs per figure for N >= 100,000 (default: --reps)")
    ap.add_argument("--sizes", default=None,
                    help="comma-separated N for resolution scaling (default 1000,10000,100000; "
                         "100,1000 with --quick)")
    ap.add_argument("--warm-size", type=int, default=None,
                    help="N for the parse-cache figures (default: the largest of --sizes)")
    ap.add_argument("--chain-depth", type=int, default=20_000,
                    help="depth of the chain figure (default 20,000)")
    ap.add_argument("--quick", action="store_true", help="fewer runs and smaller sizes")
    ap.add_argument("--only", default=",".join(SECTIONS), help=f"sections to run: {','.join(SECTIONS)}")
    ap.add_argument("--work", type=Path, default=HERE / ".work", help="scratch directory (gitignored)")
    ap.add_argument("--out", type=Path, default=HERE / "results.json")
    args = ap.parse_args(argv)
    if args.reps is None:
        args.reps = 2 if args.quick else 5
    if args.sizes is None:
        args.sizes = "100,1000" if args.quick else "1000,10000,100000"
    args.sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    if args.warm_size is None:
        args.warm_size = max(args.sizes)
    args.only = [s.strip() for s in args.only.split(",") if s.strip()]
    bad = set(args.only) - set(SECTIONS)
    if bad:
        ap.error(f"unknown section(s): {', '.join(sorted(bad))}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)

    def log(msg: str) -> None:
        print(f"[bench] {msg}", file=sys.stderr, flush=True)

    results: dict = {"machine": machine(),
                     "config": {"reps": args.reps, "large_reps": args.large_reps, "sizes": args.sizes,
                                "warm_size": args.warm_size, "chain_depth": args.chain_depth, "quick": args.quick, "sections": args.only,
                                "seed": gen.SEED, "unilang": unilang_argv()},
                     "targets": TARGETS}
    t0 = time.perf_counter()
    warm_reps = args.reps if args.warm_size < 100_000 or args.large_reps is None else min(args.reps, args.large_reps)
    steps = {
        "resolution": lambda: bench_resolution(args.sizes, args.reps, work, args.large_reps, log),
        "chain": lambda: bench_chain(args.chain_depth, args.reps, work, log),
        "warm": lambda: bench_warm(args.warm_size, warm_reps, work, log),
        "coldstart": lambda: bench_coldstart(max(args.reps, 5) if not args.quick else args.reps, work, log),
        "build": lambda: bench_build(args.reps, work, log=log),
        "image": lambda: bench_image(work, log=log),
        "boot": lambda: bench_boot(max(args.reps, 5) if not args.quick else args.reps, work, log),
        "net": lambda: _bench_net(max(args.reps, 5) if not args.quick else args.reps, work, log),
        "multi": lambda: bench_multi(args.reps, work, log=log),
        "http": lambda: _bench_http(3 if not args.quick else 1, work, log),
    }
    for name in SECTIONS:
        if name in args.only:
            t = time.perf_counter()
            try:
                results[name] = steps[name]()
            except Exception as e:  # keep the other figures; record what broke
                results[name] = {"skipped": f"error: {type(e).__name__}: {e}"}
                log(f"{name} failed: {e}")
            log(f"{name} took {time.perf_counter() - t:.1f} s")
    results["elapsed_s"] = time.perf_counter() - t0
    args.out.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(render(results))
    print(f"\nwrote {args.out} ({results['elapsed_s']:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
