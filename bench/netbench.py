"""bench section `net`: examples/udp-echo beside hello, in one run.

* QEMU start to the first echo at the host (probes every 2 ms through a
  hostfwd on 127.0.0.1), as a ratio to hello's QEMU start to exit;
* round trips per second for 64-byte datagrams, one in flight;
* the udp-echo image size.
Every loop is bounded; every QEMU is waited for or killed.
"""

from __future__ import annotations

import socket
import statistics
import subprocess
import time
from pathlib import Path
from typing import Any, Callable

TARGET_RATIO = 1.3
TARGET_BYTES = 32 * 1024
RTT_SECONDS = 1.0


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def hello_once(argv: list[str]) -> float:
    """Seconds from starting hello's QEMU command line to its exit (httpbench uses it too)."""
    t0 = time.perf_counter()
    subprocess.run(argv, capture_output=True, timeout=60, check=False)
    return time.perf_counter() - t0


def _echo_once(argv: list[str]) -> tuple[float | None, float | None]:
    """(seconds to the first echo, round trips per second)."""
    port = _free_port()
    argv = list(argv)
    i = argv.index("-netdev")
    argv[i + 1] += f",hostfwd=udp:127.0.0.1:{port}-:7"
    addr = ("127.0.0.1", port)
    first = rate = None
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(0.002)
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            for n in range(10_000):  # at most ~20 s
                s.sendto(b"p%d" % n, addr)
                try:
                    s.recv(2048)
                    first = time.perf_counter() - t0
                    break
                except socket.timeout:
                    pass
            if first is not None:
                s.settimeout(1.0)
                while True:  # drain late probe echoes
                    try:
                        s.settimeout(0.05)
                        s.recv(2048)
                    except socket.timeout:
                        break
                s.settimeout(1.0)
                payload = bytes(range(64))
                done, start = 0, time.perf_counter()
                while time.perf_counter() - start < RTT_SECONDS and done < 1_000_000:
                    s.sendto(payload, addr)
                    try:
                        if s.recv(2048) == payload:
                            done += 1
                    except socket.timeout:
                        break
                rate = done / (time.perf_counter() - start)
            s.sendto(b"quit", addr)
            proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    return first, rate


def bench_net(reps: int, work: Path, log: Callable[[str], None], *, build_image: Callable[..., dict],
              qemu_argv: Callable[..., list[str]], root: Path, env: dict[str, str],
              accels: list[str]) -> dict[str, Any]:
    """Each figure under every accelerator given (nested KVM makes each MMIO
    exit expensive: a polled driver's figures differ by orders of magnitude)."""
    return {accel: _bench_one(reps, work, log, build_image=build_image, qemu_argv=qemu_argv,
                              root=root, env=env, accel=accel) for accel in accels}


def _bench_one(reps: int, work: Path, log: Callable[[str], None], *,
               build_image: Callable[..., dict], qemu_argv: Callable[..., list[str]], root: Path,
               env: dict[str, str], accel: str) -> dict[str, Any]:
    hello = build_image(root / "examples" / "hello" / "hello.uni", "kvm", work / "net" / "hello", env)
    echo = build_image(root / "examples" / "udp-echo" / "udp-echo.uni", "kvm", work / "net" / "echo", env)
    if not (hello.get("ok") and echo.get("ok")):
        return {"skipped": "building hello or udp-echo failed",
                "error": hello.get("error") or echo.get("error")}
    hello_cmd = qemu_argv(work / "net" / "hello", accel)
    echo_cmd = qemu_argv(work / "net" / "echo", accel)
    log(f"net ({accel}): {reps} run(s) each of hello and udp-echo")
    hellos, firsts, rates = [], [], []
    for r in range(reps):
        order = [0, 1] if r % 2 == 0 else [1, 0]
        for which in order:
            if which == 0:
                hellos.append(hello_once(hello_cmd))
            else:
                f, rate = _echo_once(echo_cmd)
                if f is not None:
                    firsts.append(f)
                if rate is not None:
                    rates.append(rate)
    size = (work / "net" / "echo" / "udp-echo.elf").stat().st_size
    h = statistics.median(hellos) if hellos else None
    f = statistics.median(firsts) if firsts else None
    return {"accel": accel, "hello_boot_to_exit_s": h, "first_echo_s": f,
            "ratio": (f / h) if f and h else None, "ratio_target": TARGET_RATIO,
            "round_trips_per_s_64B": statistics.median(rates) if rates else None,
            "udp_echo_image_bytes": size, "image_target_bytes": TARGET_BYTES,
            "echo_runs_answered": len(firsts), "reps": reps}
