"""bench section `http`: examples/http beside hello, in one run, per accelerator.

* QEMU start to the first HTTP response at the host (a `GET /` tried every
  few ms through a hostfwd on 127.0.0.1), as a ratio to hello's QEMU start
  to exit (target <= 1.5x);
* requests per second and p99 latency with wrk (`wrk -t1 -c10 -d5s
  --latency http://127.0.0.1:PORT/`), against the same guest;
* the http image's size, and its size without the sealed files (the example
  built from a copy whose www/ is empty; target <= 64 KiB).
Reference (Unikraft's EuroSys'21 artifacts, KVM): Unikraft nginx 291.9k
requests/s, MirageOS 25.9k.  Every loop is bounded; every QEMU is waited
for or killed.
"""

from __future__ import annotations

import re
import shutil
import socket
import statistics
import subprocess
import time
from pathlib import Path
from typing import Any, Callable

from netbench import hello_once

TARGET_RATIO = 1.5
TARGET_BYTES = 64 * 1024
WRK_SECONDS = 5
WRK_CONNECTIONS = 10
REFERENCE = {"Unikraft nginx (KVM)": 291_900, "MirageOS (KVM)": 25_900}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _first_response(port: int, proc: subprocess.Popen[bytes], t0: float,
                    limit_s: float = 60.0) -> float | None:
    """Seconds from t0 to the first complete status line of a `GET /`."""
    while time.perf_counter() - t0 < limit_s and proc.poll() is None:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
                s.sendall(b"GET / HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
                if s.recv(64).startswith(b"HTTP/1.1 200"):
                    return time.perf_counter() - t0
        except OSError:
            pass
        time.sleep(0.003)
    return None


_WRK_RATE = re.compile(r"Requests/sec:\s+([0-9.]+)")
_WRK_P99 = re.compile(r"^\s*99%\s+([0-9.]+)(us|ms|s)\s*$", re.M)


def parse_wrk(text: str) -> tuple[float | None, float | None]:
    """(requests per second, p99 latency in seconds) from wrk --latency output."""
    rate = _WRK_RATE.search(text)
    p99 = _WRK_P99.search(text)
    scale = {"us": 1e-6, "ms": 1e-3, "s": 1.0}
    return (float(rate.group(1)) if rate else None,
            float(p99.group(1)) * scale[p99.group(2)] if p99 else None)


def _serve_once(argv: list[str], wrk: str | None) -> dict[str, Any]:
    port = _free_port()
    argv = list(argv)
    i = argv.index("-netdev")
    argv[i + 1] += f",hostfwd=tcp:127.0.0.1:{port}-:80"
    out: dict[str, Any] = {"first_s": None, "rps": None, "p99_s": None, "errors": None}
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        out["first_s"] = _first_response(port, proc, t0)
        if out["first_s"] is not None and wrk is not None:
            r = subprocess.run([wrk, "-t1", f"-c{WRK_CONNECTIONS}", f"-d{WRK_SECONDS}s",
                                "--timeout", "10s", "--latency", f"http://127.0.0.1:{port}/"],
                               capture_output=True, text=True, timeout=WRK_SECONDS + 60,
                               check=False)
            out["rps"], out["p99_s"] = parse_wrk(r.stdout)
            m = re.search(r"Non-2xx or 3xx responses: (\d+)|Socket errors: (.*)", r.stdout)
            out["errors"] = m.group(0) if m else None
    finally:
        proc.kill()
        proc.wait(timeout=30)
    return out


def bench_http(reps: int, work: Path, log: Callable[[str], None], *,
               build_image: Callable[..., dict], qemu_argv: Callable[..., list[str]], root: Path,
               env: dict[str, str], accels: list[str]) -> dict[str, Any]:
    hello = build_image(root / "examples" / "hello" / "hello.uni", "kvm", work / "http" / "hello", env)
    site = build_image(root / "examples" / "http" / "http.uni", "kvm", work / "http" / "site", env)
    # the same example with an empty www/: everything but the sealed files
    bare = work / "http" / "bare-src"
    shutil.rmtree(bare, ignore_errors=True)
    shutil.copytree(root / "examples" / "http", bare, ignore=shutil.ignore_patterns("www"))
    (bare / "www").mkdir()
    empty = build_image(bare / "http.uni", "kvm", work / "http" / "bare", env)
    if not (hello.get("ok") and site.get("ok") and empty.get("ok")):
        return {"skipped": "building hello or the http example failed",
                "error": hello.get("error") or site.get("error") or empty.get("error")}
    size = (work / "http" / "site" / "http.elf").stat().st_size
    bare_size = (work / "http" / "bare" / "http.elf").stat().st_size
    wrk = shutil.which("wrk")
    out: dict[str, Any] = {"image_bytes": size, "image_without_files_bytes": bare_size,
                           "image_target_bytes": TARGET_BYTES, "wrk": wrk is not None,
                           "reference_rps": REFERENCE}
    for accel in accels:
        hello_cmd = qemu_argv(work / "http" / "hello", accel)
        site_cmd = qemu_argv(work / "http" / "site", accel)
        log(f"http ({accel}): {reps} run(s) each of hello and http, wrk {WRK_SECONDS} s a run")
        hellos, firsts, rates, p99s = [], [], [], []
        for r in range(reps):
            for which in ([0, 1] if r % 2 == 0 else [1, 0]):
                if which == 0:
                    hellos.append(hello_once(hello_cmd))
                    continue
                one = _serve_once(site_cmd, wrk)
                if one["first_s"] is not None:
                    firsts.append(one["first_s"])
                if one["rps"] is not None:
                    rates.append(one["rps"])
                if one["p99_s"] is not None:
                    p99s.append(one["p99_s"])
        h = statistics.median(hellos) if hellos else None
        f = statistics.median(firsts) if firsts else None
        out[accel] = {"accel": accel, "hello_boot_to_exit_s": h, "first_response_s": f,
                      "ratio": (f / h) if f and h else None, "ratio_target": TARGET_RATIO,
                      "requests_per_s": statistics.median(rates) if rates else None,
                      "p99_latency_s": statistics.median(p99s) if p99s else None,
                      "runs_answered": len(firsts), "reps": reps}
    return out


def render_http(h: dict[str, Any] | None) -> list[str]:
    """bench/README.md lines for the section (empty without results)."""
    if not h:
        return []
    if "skipped" in h:
        return ["", f"### http: skipped ({h['skipped']})"]
    lines = ["", "### http: examples/http (a web server unikernel) beside hello, one run", "",
             f"Image: {h['image_bytes']:,} bytes; without its sealed files "
             f"{h['image_without_files_bytes']:,} bytes (target <= {TARGET_BYTES:,}: "
             f"{'met' if h['image_without_files_bytes'] <= TARGET_BYTES else 'MISSED'}).", "",
             "| accelerator | hello boot to exit | QEMU start to first response | ratio | "
             "target <= 1.5x | wrk requests/s (1 thread, 10 connections) | p99 latency |",
             "|---|---|---|---|---|---|---|"]
    for accel in ("kvm", "tcg"):
        a = h.get(accel)
        if not a:
            continue
        ratio = a["ratio"]
        rps = a["requests_per_s"]
        p99 = a["p99_latency_s"]
        lines.append(
            f"| {accel.upper()} | {_ms(a['hello_boot_to_exit_s'])} | {_ms(a['first_response_s'])} | "
            f"{'-' if ratio is None else f'{ratio:.2f}x'} | "
            f"{'-' if ratio is None else ('met' if ratio <= TARGET_RATIO else 'MISSED')} | "
            f"{'-' if rps is None else f'{rps:,.0f}'} | {_ms(p99)} |")
    lines += ["", "For reference, on KVM (Unikraft's EuroSys'21 artifacts): "
              + ", ".join(f"{k} {v / 1000:.1f}k requests/s" for k, v in REFERENCE.items()) + "."]
    return lines


def _ms(x: float | None) -> str:
    return "-" if x is None else f"{x * 1000:.1f} ms"
