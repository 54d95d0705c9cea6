/* The boot floor: a PVH image that only writes QEMU's isa-debug-exit port.
 * 32-bit protected-mode entry (PVH), no stack, no page tables: write 0 to
 * port 0xf4 (QEMU then exits with status (0 << 1) | 1 = 1, the same status
 * as an app whose main returns 0), then halt in case the port is absent. */
        .section .note.Xen, "a", @note
        .balign 4
        .long   4               /* namesz: "Xen\0" */
        .long   4               /* descsz */
        .long   18              /* type: XEN_ELFNOTE_PHYS32_ENTRY */
        .asciz  "Xen"
        .long   _start32        /* desc: the 32-bit physical entry */
        .balign 4

        .section .text.boot, "ax", @progbits
        .code32
        .globl  _start32
_start32:
        xorl    %eax, %eax
        movw    $0xf4, %dx
        outl    %eax, %dx
1:      cli
        hlt
        jmp     1b
