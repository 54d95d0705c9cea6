/* Xen backend console: every byte goes to I/O port 0xE9.
 * On Xen (HVM/PVH guests) port 0xE9 is the hypervisor's guest debug output
 * (visible in `xl dmesg` / the Xen console, prefixed "(dN)"); on QEMU it is
 * -device isa-debugcon,iobase=0xe9.  No initialisation needed, so the
 * "debugcon" library has no init function. */
#include <unilang/runtime.h>

#define DEBUGCON_PORT 0xe9

void unilang_console_write(const char *s, unsigned long n)
{
    for (unsigned long i = 0; i < n; ++i)
        unilang_outb(DEBUGCON_PORT, (uint8_t)s[i]);
}
