/* Entry stubs of the 32 exception vectors (the IDT is built in protect.c).
 *
 * The stubs are 8 bytes apart (protect.c computes stub v as
 * unilang_fault_stubs + 8 * v): each pushes its vector and jumps to the
 * common part, through fault_no_error (which slips a zero error code under
 * the vector) where the CPU pushes no error code.  The common part passes
 * the frame (vector, error code, then what the CPU pushed: RIP, CS, RFLAGS,
 * RSP, SS) to unilang_fault (fault.c), which reports and shuts down.
 * Vector 8 (double fault) arrives on the fault stack (IST1). */

/* vectors for which the CPU pushes an error code */
#define HAS_ERROR(v) ((v) == 8 || (v) == 10 || (v) == 11 || (v) == 12 || (v) == 13 || \
                      (v) == 14 || (v) == 17 || (v) == 21 || (v) == 29 || (v) == 30)

        .macro  stub v
        .balign 8
        pushq   $\v
        .if     HAS_ERROR(\v)
        jmp     fault_common
        .else
        jmp     fault_no_error
        .endif
        .endm

        .section .text.unilang_fault, "ax", @progbits
        .code64
        .balign 256                     /* the 256 bytes of stubs share bits 16..63 */
        .globl  unilang_fault_stubs
        .type   unilang_fault_stubs, @function
unilang_fault_stubs:
        .irp    v, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, \
                16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31
        stub    \v
        .endr
        .size   unilang_fault_stubs, . - unilang_fault_stubs

        .type   fault_common, @function
fault_no_error:                         /* [vector, RIP, ...] -> [vector, 0, RIP, ...] */
        pushq   (%rsp)
        movq    $0, 8(%rsp)
fault_common:
        cld
        movq    %rsp, %rdi              /* struct unilang_fault_frame * */
        andq    $-16, %rsp              /* the ABI's alignment at the call */
        call    unilang_fault           /* never returns */
1:      cli
        hlt
        jmp     1b
        .size   fault_common, . - fault_common
