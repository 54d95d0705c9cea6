"""The network stack's hot helpers, compiled for the host and checked against models.

`unilang_csum_add` (stdlib/lib/ipv4) sums 8-byte words in an add-with-carry
chain and `unilang_link_copy` (<unilang/netlink.h>) copies with string
instructions, so that a hypervisor that emulates each guest instruction runs
few of them (docs/network.md, "Figures").  tests/host_c/csum_driver.c runs
both against the plain models (RFC 1071's 16-bit big-endian sum, a byte
copy) on seeded random lengths, alignments and contents, under the
sanitizers.  The guest-side behaviour (slirp verifies every UDP checksum the
guest sends; the guest drops bad ones) is in tests/test_net.py.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from support import IPV4_DEFINES, ipv4_host_sources

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc is needed")


def test_checksum_and_copy_match_the_models(tmp_path: Path) -> None:
    lib = ROOT / "stdlib" / "lib"
    exe = tmp_path / "csum_driver"
    incs = [f"-I{ROOT / 'stdlib' / 'include'}"] + [
        f"-I{lib / n / 'include'}" for n in ("ipv4", "ethernet", "arp", "conio", "virtio-net")]
    r = subprocess.run(["gcc", "-std=gnu11", "-O2", "-g", "-Wall", "-Wextra", "-Werror",
                        "-fsanitize=address,undefined", "-fno-sanitize-recover=all", *IPV4_DEFINES,
                        *incs, "-o", str(exe), str(ROOT / "tests" / "host_c" / "csum_driver.c"),
                        *ipv4_host_sources(tmp_path)],
                       capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stderr
    for seed in (1, 2):
        p = subprocess.run([str(exe), str(seed), "20000"], capture_output=True, text=True,
                           timeout=120, check=False)
        assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
        assert p.stdout.splitlines()[-1] == "checked 20000"
        assert "MISMATCH" not in p.stdout
