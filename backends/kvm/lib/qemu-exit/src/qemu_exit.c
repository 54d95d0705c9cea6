/* KVM backend shutdown.
 *
 * 1. QEMU isa-debug-exit (-device isa-debug-exit,iobase=0xf4,iosize=0x04):
 *    one byte write (outb) of `code` to port 0xf4; QEMU exits with status
 *    ((code & 0xff) << 1) | 1, truncated to 8 bits by the OS, i.e. codes
 *    0..127 are recoverable as status >> 1.  outb works for iosize 1 and 4.
 * 2. i8042 reset (0xfe to port 0x64): how Firecracker guests end (its exit
 *    status does not carry the code).
 * 3. cli; hlt forever (nothing above existed).
 */
#include <unilang/runtime.h>

#define DEBUG_EXIT_PORT 0xf4
#define I8042_CMD_PORT 0x64
#define I8042_RESET 0xfe

_Noreturn void unilang_shutdown(int code)
{
    unilang_outb(DEBUG_EXIT_PORT, (uint8_t)code);
    unilang_outb(I8042_CMD_PORT, I8042_RESET);
    unilang_halt_forever();
}
