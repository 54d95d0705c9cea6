"""Smoke tests for bench/: the generators and the harness on tiny inputs.

No QEMU, no big sizes: a few seconds in all.  The benchmark itself is
`make bench` (bench/run.py), not part of the test suite.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
sys.path.insert(0, str(BENCH))

import gen  # noqa: E402
import run  # noqa: E402


def test_graph_is_deterministic_acyclic_and_points_later():
    a, b = gen.graph(500), gen.graph(500)
    assert a == b
    for i, deps in enumerate(a):
        assert deps == sorted(set(deps))
        assert all(j > i for j in deps)
        assert len(deps) == min(3, 500 - 1 - i)
    assert gen.graph(500, seed=1) != a
    # mostly nearby: nine requirements in ten within the window
    near = sum(1 for i, deps in enumerate(a) for j in deps if j - i <= gen.WINDOW)
    assert near >= 0.8 * sum(len(d) for d in a)


def test_world_is_realistic():
    n = 1000
    params = [i for i in range(n) if gen.param(i) is not None]
    exercising = [i for i in range(n) if gen.exercised(i) is not None]
    assert len(params) == n // 10 and len(exercising) == n // 20
    for i in params:
        default, low, high = gen.param(i)
        assert low <= default <= high
    assert len(gen.roots(n)) == 20 and gen.roots(n)[0] == 0


def test_generate_writes_every_variant(tmp_path):
    paths = gen.generate(40, tmp_path, modules=5)
    one = paths["one"].read_text()
    assert "app bench {" in one and "policies = [bench-policy];" in one
    assert one.count("library lib") == 40 and one.count("construct c") == 40
    assert one.count('doc = "Synthetic library') == 40
    assert one.count("param size: int") == 4 and one.count("exercises = [bench.cap") == 2
    assert (tmp_path / "main.c").is_file()
    split = paths["split"].read_text()
    assert [ln for ln in split.splitlines() if ln.startswith("import")] == [
        f"import mods.m{k};" for k in range(5)]
    assert sum(p.read_text().count("library lib") for p in paths["modules"]) == 40
    kconfig = paths["kconfig"].read_text()
    assert kconfig.count("config LIB") == 44 and "select LIB" in kconfig
    assert kconfig.count("\tint ") == 4 and kconfig.count("\trange ") == 4
    assert paths["defconfig"].read_text() == "CONFIG_APP=y\n"
    # reused when complete, regenerated otherwise
    assert gen.generated(40, tmp_path, modules=5)["split"] == paths["split"]
    # N/100 module files by default
    assert len(gen.generate(300, tmp_path / "d")["modules"]) == 3


def test_generated_worlds_check_clean(tmp_path):
    """Both variants check without a diagnostic, and select what Kconfiglib selects."""
    paths = gen.generate(300, tmp_path)
    chain = gen.write_chain(50, tmp_path / "chain")
    for spec in (paths["one"], paths["split"], chain):
        proc = subprocess.run([sys.executable, "-m", "unilang", "check", str(spec), "-b", "kvm"],
                              capture_output=True, text=True, cwd=spec.parent)
        assert proc.returncode == 0 and "warning" not in proc.stderr, proc.stderr
    res = subprocess.run([sys.executable, "-m", "unilang", "resolve", str(paths["one"]), "-b",
                          "kvm", "--format", "json"], capture_output=True, text=True,
                         cwd=tmp_path, check=True)
    ours = {lib["name"] for lib in json.loads(res.stdout)["libraries"]
            if lib["name"].startswith("lib")}
    try:
        import kconfiglib
    except ImportError:  # the bench extra
        return
    kconf = kconfiglib.Kconfig(str(paths["kconfig"]), warn=False)
    kconf.load_config(str(paths["defconfig"]))
    theirs = {name.lower() for name, sym in kconf.syms.items()
              if name.startswith("LIB") and "_" not in name and sym.str_value == "y"}
    assert ours == theirs and len(ours) > 200


def test_touch_module_changes_content_once(tmp_path):
    p = tmp_path / "m.uni"
    p.write_text("construct c1;\n")
    gen.touch_module(p, 1)
    gen.touch_module(p, 2)
    assert p.read_text() == "construct c1;\n# touched 2\n"


def test_run_process_times_and_measures():
    s = run.run_process([sys.executable, "-c", "import sys; print('hi'); sys.exit(3)"])
    assert s.rc == 3 and s.stdout.strip() == "hi"
    assert 0 < s.wall < 30 and s.maxrss_kib > 1000


def test_interleaved_alternates_order():
    calls = []

    def task(name):
        def fn():
            calls.append(name)
            return run.Sample(0.01, 1, 0, "", "")
        return fn

    got = run.interleaved([("a", task("a")), ("b", task("b"))], 3)
    assert calls == ["a", "b", "b", "a", "a", "b"]
    assert {k: len(v) for k, v in got.items()} == {"a": 3, "b": 3}
    assert run.summary(got["a"])["median_s"] == 0.01


def test_resolution_and_warm_harness(tmp_path):
    rows = run.bench_resolution([10], 1, tmp_path, log=lambda m: None)
    assert len(rows) == 1
    row = rows[0]
    assert row["n"] == 10 and row["reps"] == 1 and row["unilang_ok"]
    assert row["unilang"]["runs"] == 1 and row["unilang"]["median_s"] > 0
    assert row["unilang"]["maxrss_kib"] > 0
    if row["kconfiglib"] is not None:  # kconfiglib is the bench extra
        assert row["kconfiglib_ok"], row.get("kconfiglib_error")
        assert row["ratio"] > 0
        config = (tmp_path / "gen" / "10" / ".config.out").read_text()
        assert "CONFIG_APP=y" in config and "CONFIG_LIB0=y" in config

    warm = run.bench_warm(10, 1, tmp_path, log=lambda m: None, variants=("split",))
    assert warm["n"] == 10 and warm["split"]["ok"] and "one" not in warm
    assert set(warm["split"]) >= {"cold", "warm", "touched", "warm_over_cold", "touched_over_cold"}
    assert warm["split"]["warm_over_cold"] > 0

    table = run.render({"machine": run.machine(), "config": {"reps": 1},
                        "resolution": rows, "warm": warm})
    assert "| 10 | 1 |" in table and "### 2. Parse cache" in table


def test_importtime_parses():
    top = run.importtime_top(5)
    assert top["modules"] > 10 and len(top["top_cumulative"]) == 5
    assert top["top_cumulative"][0]["cumulative_us"] >= top["top_cumulative"][-1]["cumulative_us"]


def test_qemu_argv_picks_one_accelerator(tmp_path):
    (tmp_path / "qemu.json").write_text(json.dumps(
        ["qemu-system-x86_64", "-M", "microvm", "-accel", "kvm", "-accel", "tcg", "-m", "16M",
         "-kernel", "hello.elf"]))
    argv = run.qemu_argv(tmp_path, "tcg", kernel=tmp_path / "floor.elf")
    assert argv.count("-accel") == 1 and argv[argv.index("-accel") + 1] == "tcg"
    assert argv[argv.index("-kernel") + 1] == str((tmp_path / "floor.elf").resolve())


def test_floor_image_is_pvh(tmp_path):
    if not run.have_cc():
        pytest.skip("gcc/ld not found")
    from elftools.elf.elffile import ELFFile

    elf = run.build_floor(tmp_path)
    with elf.open("rb") as f:
        e = ELFFile(f)
        notes = [seg for seg in e.iter_segments() if seg["p_type"] == "PT_NOTE"]
        assert notes and notes[0]["p_align"] == 4
        found = {(n["n_name"], n["n_type"]): n["n_desc"] for n in notes[0].iter_notes()}
        assert ("Xen", 18) in found  # XEN_ELFNOTE_PHYS32_ENTRY
        entry = e.header["e_entry"]
        assert entry >= 0x100000
        assert int.from_bytes(found[("Xen", 18)], "little") == entry


def test_cli_parses_options():
    args = run.parse_args(["--quick", "--sizes", "10,1_000", "--only", "resolution,warm"])
    assert args.sizes == [10, 1000] and args.reps == 2 and args.warm_size == 1000
    assert args.only == ["resolution", "warm"]
    with pytest.raises(SystemExit):
        run.parse_args(["--only", "nope"])


def test_gen_command_line(tmp_path):
    out = subprocess.run([sys.executable, str(BENCH / "gen.py"), "5", str(tmp_path), "--modules", "2"],
                         capture_output=True, text=True, check=True)
    assert "split:" in out.stdout and (tmp_path / "mods" / "m1.uni").is_file()


def test_multi_section_renders_its_verdict():
    side = {"median_s": 2.0, "min_s": 1.9, "max_s": 2.2, "runs": 3}
    table = run.render({"machine": run.machine(), "config": {"reps": 3}, "multi": {
        "specs": ["hello", "stats"], "left_out": ["udp-echo (does not check on xen)"],
        "backends": ["kvm", "xen"], "outputs": 4, "one_by_one": side,
        "set": dict(side, median_s=1.5), "ratio": 0.75, "identical_outputs": True, "ok": True}})
    assert "### 7. Many specs in one build" in table
    assert "left out: udp-echo (does not check on xen)" in table
    assert "set / one by one (medians): 0.75x, target <= 0.7x: MISSED; outputs byte-identical: " \
        "yes" in table
    assert "multi" in run.SECTIONS and run.TARGETS["multi_ratio"] == 0.7


def test_wrk_output_is_parsed():
    """bench/httpbench.py reads wrk's requests/s and p99 from `wrk --latency`."""
    import httpbench

    text = """Running 5s test @ http://127.0.0.1:8080/
  1 threads and 10 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.21ms  310.00us   9.87ms   90.00%
  Latency Distribution
     50%    1.10ms
     75%    1.30ms
     90%    1.60ms
     99%    2.50ms
  41234 requests in 5.00s, 20.00MB read
Requests/sec:   8246.80
Transfer/sec:      4.00MB
"""
    assert httpbench.parse_wrk(text) == (8246.8, 0.0025)
    assert httpbench.parse_wrk(text.replace("2.50ms", "812.00us"))[1] == 812e-6
    assert httpbench.parse_wrk("") == (None, None)
    lines = httpbench.render_http({"image_bytes": 37520, "image_without_files_bytes": 29328,
                                   "kvm": {"hello_boot_to_exit_s": 0.1, "first_response_s": 0.12,
                                           "ratio": 1.2, "requests_per_s": 8246.8,
                                           "p99_latency_s": 0.0025}})
    assert "| KVM | 100.0 ms | 120.0 ms | 1.20x | met | 8,247 | 2.5 ms |" in lines


@pytest.mark.parametrize("backend", ["kvm", "xen"])
def test_everything_spec_checks_on_each_backend(tmp_path, backend):
    """The image section's "everything linked" hello: every construct with
    sources that an app can require on the backend, a NIC when the network is
    among them (kvm), none where it is not (xen: no net.link provider)."""
    hello = ROOT / "examples" / "hello" / "hello.uni"
    libs = run.linkable_constructs(hello, backend, run.base_env(run.CacheDirs(tmp_path).warm()))
    needs_nic = {c: net for cs in libs.values() for c, net in cs.items()}
    constructs = sorted(set(needs_nic) - {"boot"})
    assert ("net.tcp" in constructs) == (backend == "kvm")
    spec = run.write_everything_spec(tmp_path / "src", constructs,
                                     any(needs_nic[c] for c in constructs))
    r = subprocess.run([sys.executable, "-m", "unilang", "check", str(spec), "-b", backend],
                       capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr


def test_modelcost_counts_the_objects_a_check_builds(tmp_path):
    """bench/modelcost.py: a real check of a small world, its attrs objects by class."""
    out = subprocess.run([sys.executable, str(BENCH / "modelcost.py"), "--n", "40", "--reps", "1",
                          "--work", str(tmp_path), "--part", "objects"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    rows = {ln.split()[0]: int(ln.split()[1].replace(",", "")) for ln in out.stdout.splitlines()
            if ln.startswith("unilang.")}
    # one Library and one Construct per library (plus the spec's own), four
    # refs a library or so: the world of gen.py
    assert rows["unilang.model.Library"] >= 40 and rows["unilang.model.Construct"] >= 40
    assert rows["unilang.model.Ref"] > rows["unilang.model.Requirement"] > 40
    bad = subprocess.run([sys.executable, str(BENCH / "modelcost.py"), "--reps", "0"],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "--n and --reps must be at least 1" in bad.stderr
