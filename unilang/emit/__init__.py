"""Emission: generated C, linker script, build file and hypervisor configs."""
