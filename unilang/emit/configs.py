"""Hypervisor configurations: QEMU argv and script, Firecracker, libvirt, xl.cfg.

Paths to the kernel are relative to the output directory (so the outputs
are the same bytes wherever the checkout is); each file says so.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .. import model as M
from ..resolve import Resolution
from . import escape as E
from .templates import render

QEMU = "qemu-system-x86_64"
DEBUG_EXIT = "isa-debug-exit,iobase=0xf4,iosize=0x04"
#: libvirt wants an absolute kernel path; libvirt's own image directory keeps the
#: file the same wherever the build ran (the XML says where to copy the image).
LIBVIRT_IMAGES = "/var/lib/libvirt/images"


def _mib(n: int) -> int:
    return (n + (1 << 20) - 1) >> 20


def qemu_argv(res: Resolution, kernel: str) -> list[str]:
    """The QEMU microvm command line; `-accel kvm -accel tcg` falls back to TCG."""
    app = res.app
    argv = [QEMU, "-M", "microvm", "-accel", "kvm", "-accel", "tcg", "-cpu", "max",
            "-m", f"{_mib(app.memory)}M", "-smp", str(app.vcpus),
            "-nodefaults", "-no-user-config", "-no-reboot", "-display", "none"]
    if res.backend == "xen":
        # The xen image writes its console to port 0xE9 (Xen's debug port).
        argv += ["-chardev", "stdio,id=dbg", "-device", "isa-debugcon,iobase=0xe9,chardev=dbg"]
    else:
        argv += ["-serial", "stdio"]
    argv += ["-device", DEBUG_EXIT, "-kernel", kernel]
    if app.cmdline:
        argv += ["-append", app.cmdline]
    return argv


def tcg_argv(argv: list[str]) -> list[str]:
    """``argv`` with its accelerators replaced by TCG alone (run-qemu.sh's fallback)."""
    out: list[str] = []
    for i, a in enumerate(argv):
        if a == "-accel" or (i > 0 and argv[i - 1] == "-accel"):
            continue
        out.append(a)
    return out[:1] + ["-accel", "tcg"] + out[1:]


def _devices(app: M.App, backend: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    nets, disks = [], []
    for i, d in enumerate(dev for dev in app.devices if dev.kind == "net"):
        mac = d.get("mac")
        bridge = d.get("bridge") or ("xenbr0" if backend == "xen" else "br0")
        spec = ",".join(x for x in (f"mac={mac}" if mac else "", f"bridge={bridge}") if x)
        nets.append({"name": d.name, "mac": mac, "bridge": bridge, "spec": spec,
                     "iface": f"eth{i}", "tap": f"tap-{d.name}"})
    for i, d in enumerate(dev for dev in app.devices if dev.kind == "block"):
        fmt = d.get("format") or "raw"
        access = "ro" if d.get("readonly") else "rw"
        target = ("xvd" if backend == "xen" else "vd") + chr(ord("a") + i)
        path = d.get("path")
        disks.append({"name": d.name, "path": path, "format": fmt, "readonly": bool(d.get("readonly")),
                      "libvirt_path": f"{LIBVIRT_IMAGES}/{path}",
                      "target": target,
                      "spec": f"format={fmt}, vdev={target}, access={access}, target={path}"})
    return nets, disks


def firecracker_json(res: Resolution, kernel: str) -> str:
    app = res.app
    nets, disks = _devices(app, res.backend)
    doc = {
        "boot-source": {"kernel_image_path": kernel, "boot_args": app.cmdline},
        "drives": [{"drive_id": d["name"], "path_on_host": d["path"],
                    "is_root_device": False, "is_read_only": d["readonly"]} for d in disks],
        "machine-config": {"vcpu_count": app.vcpus, "mem_size_mib": _mib(app.memory)},
        "network-interfaces": [{"iface_id": n["iface"], "host_dev_name": n["tap"],
                                **({"guest_mac": n["mac"]} if n["mac"] else {})} for n in nets],
    }
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def render_configs(res: Resolution, kernel: str, search: list[Path]) -> dict[str, bytes]:
    """Every configuration file for the resolution's backend, by file name."""
    app = res.app
    nets, disks = _devices(app, res.backend)
    ctx = {
        "app": app.name, "backend": res.backend, "kernel": kernel, "cmdline": app.cmdline,
        "libvirt_kernel": f"{LIBVIRT_IMAGES}/{app.name}-{res.backend}.elf",
        "memory_kib": _mib(app.memory) * 1024, "memory_mib": _mib(app.memory),
        "vcpus": app.vcpus, "nets": nets, "disks": disks,
    }
    argv = qemu_argv(res, kernel)
    out: dict[str, bytes] = {
        "qemu.json": (json.dumps(argv, indent=2, ensure_ascii=False) + "\n").encode(),
        "run-qemu.sh": render(search, "run-qemu.sh.j2", argv=argv, tcg_argv=tcg_argv(argv),
                              **ctx).encode(),
        "libvirt.xml": render(search, "libvirt.xml.j2", **ctx).encode(),
    }
    if res.backend == "kvm":
        out["firecracker.json"] = firecracker_json(res, kernel).encode()
    if res.backend == "xen":
        out["xl.cfg"] = render(search, "xl.cfg.j2", **ctx).encode()
    return out


__all__ = ["qemu_argv", "render_configs", "firecracker_json", "E"]
