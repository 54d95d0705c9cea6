"""Hypervisor configurations, from the backend's descriptor and templates.

Every file a backend emits (``emits`` in ``backends/<name>/backend.toml``) is
rendered from ``NAME.j2`` in the backend's folder or ``stdlib/templates``,
with one context: the app's facts, its devices and the QEMU command line
built from the backend's ``[qemu]`` facts.  Paths to the kernel are relative
to the output directory (so the outputs are the same bytes wherever the
checkout is); each file says so.
"""

from __future__ import annotations

from typing import Any

from .. import model as M
from ..backend import Backend
from ..kvmprobe import with_accel
from ..resolve import Resolution
from .templates import render

QEMU = "qemu-system-x86_64"
#: libvirt wants an absolute kernel path; libvirt's own image directory keeps the
#: file the same wherever the build ran (the XML says where to copy the image).
LIBVIRT_IMAGES = "/var/lib/libvirt/images"


def _mib(n: int) -> int:
    return (n + (1 << 20) - 1) >> 20


def qemu_argv(backend: Backend, app: M.App, kernel: str) -> list[str]:
    """The QEMU command line; `-accel kvm -accel tcg` falls back to TCG."""
    q = backend.qemu
    argv = [QEMU, "-M", q.machine, "-accel", "kvm", "-accel", "tcg", "-cpu", q.cpu,
            "-m", f"{_mib(app.memory)}M", "-smp", str(app.vcpus),
            "-nodefaults", "-no-user-config", "-no-reboot", "-display", "none", *q.console]
    for device in q.devices:
        argv += ["-device", device]
    nets = [d for d in app.devices if d.kind == "net"]
    if nets and q.net:
        argv += list(q.net_once)
        for d in nets:
            # names are [A-Za-z_][A-Za-z0-9_-]* and MACs hex pairs: no `,` to double
            mac = d.get("mac")
            argv += [a.format(id=netdev_id(d.name), mac=f",mac={mac}" if mac else "")
                     for a in q.net]
    argv += ["-kernel", kernel]
    if app.cmdline:
        argv += ["-append", app.cmdline]
    return argv


def netdev_id(device: str) -> str:
    """QEMU's id of a net device's backend: ids must start with a letter."""
    return f"net-{device}"


def _devices(app: M.App, backend: Backend) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    nets, disks = [], []
    for i, d in enumerate(dev for dev in app.devices if dev.kind == "net"):
        mac = d.get("mac")
        bridge = d.get("bridge") or backend.bridge
        spec = ",".join(x for x in (f"mac={mac}" if mac else "", f"bridge={bridge}") if x)
        nets.append({"name": d.name, "mac": mac, "bridge": bridge, "spec": spec,
                     "iface": f"eth{i}", "tap": d.get("tap") or f"tap-{d.name}"[:15]})
    for i, d in enumerate(dev for dev in app.devices if dev.kind == "block"):
        fmt = d.get("format") or "raw"
        access = "ro" if d.get("readonly") else "rw"
        target = backend.disk_prefix + chr(ord("a") + i)
        path = d.get("path")
        disks.append({"name": d.name, "path": path, "format": fmt,
                      "readonly": bool(d.get("readonly")),
                      "libvirt_path": f"{LIBVIRT_IMAGES}/{path}",
                      "target": target,
                      "spec": f"format={fmt}, vdev={target}, access={access}, target={path}"})
    return nets, disks


def render_configs(res: Resolution, backend: Backend, kernel: str) -> dict[str, bytes]:
    """Every configuration file the backend emits, by file name."""
    app = res.app
    nets, disks = _devices(app, backend)
    argv = qemu_argv(backend, app, kernel)
    ctx = {
        "app": app.name, "backend": backend.name, "kernel": kernel, "cmdline": app.cmdline,
        "libvirt_kernel": f"{LIBVIRT_IMAGES}/{app.name}-{backend.name}.elf",
        "memory_kib": _mib(app.memory) * 1024, "memory_mib": _mib(app.memory),
        "vcpus": app.vcpus, "nets": nets, "disks": disks,
        "argv": argv, "tcg_argv": with_accel(argv, "tcg"),
    }
    search = backend.template_search()
    return {name: render(search, f"{name}.j2", **ctx).encode() for name in backend.emits}
