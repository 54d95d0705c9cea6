"""Kconfiglib's side of the resolution benchmark: load a Kconfig, apply a
defconfig, write the resulting .config.  Usage: kconfig_driver.py KCONFIG DEFCONFIG OUT"""

import sys

import kconfiglib


def main() -> int:
    kconfig, defconfig, out = sys.argv[1:4]
    kconf = kconfiglib.Kconfig(kconfig, warn=False)
    kconf.load_config(defconfig)
    kconf.write_config(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
