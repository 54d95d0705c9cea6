/* PVH entry for unilang images (x86-64), shared by every backend.
 *
 * Entered in 32-bit protected mode, paging off, interrupts off, flat
 * segments, %ebx = physical address of struct hvm_start_info.
 * The image is linked at 1 MiB and runs identity mapped.
 *
 * Steps, 32-bit part: read the TSC, store it and %ebx in the boot area (in
 * .bss, so the image needs no file-backed .data), map memory identity in
 * page tables there (all of 0..4 GiB as four 1 GiB pages when CPUID says
 * the CPU has them; otherwise only 0..__image_end in 2 MiB pages, usually
 * one entry, and protect.c replaces this map from
 * 64-bit code with the final one: W^X, guard page, page 0 unmapped), enable PAE,
 * EFER.LME (+NXE when the CPU has NX), paging, load a 64-bit GDT, far jump
 * to 64-bit code.  64-bit part: segments, a 16 KiB stack (above an unmapped
 * guard page once protect.c has built the final page tables), zero .bss
 * except the boot area (and .bss.unilang_noinit, outside __bss_start..__bss_end),
 * enable write-back caching via the MTRRs if nobody did,
 * call unilang_boot_main (which never returns).
 *
 * Boot time: the 32-bit part is kept to a few dozen instructions.  Some
 * hypervisors emulate every instruction a guest runs before it enables
 * paging (KVM on this project's machines takes microseconds per
 * instruction there; zeroing .bss in 32-bit mode took ~17 ms, a loop over
 * the 2048 page-directory entries of 4 GiB ~10 ms), while 64-bit code
 * runs natively.  The boot area (page tables, the start-info pointer, the
 * entry TSC, the stack) is therefore not zeroed by this code: like the rest
 * of .bss it is zero when the loader hands over, because PVH loaders
 * zero-fill p_memsz beyond p_filesz (QEMU, Xen's libelf) or load into
 * fresh, zeroed guest memory (Firecracker).  Only unused page-table entries
 * depend on that.  The page tables are not in the file either: a prebuilt
 * page directory of the first GiB cost 4 KiB of image (plus 4 KiB of
 * alignment padding) to save a loop only CPUs without 1 GiB pages run.
 *
 * No multiboot header: QEMU tries multiboot before PVH and fails on a
 * 64-bit ELF that carries one.
 */

#define CR0_PE   0x00000001
#define CR0_WP   0x00010000
#define CR0_PG   0x80000000
#define CR4_PAE  0x00000020
#define MSR_EFER 0xc0000080
#define EFER_LME 0x00000100
#define EFER_NXE 0x00000800
#define MSR_MTRR_CAP        0x0fe
#define MSR_MTRR_PHYSBASE0  0x200
#define MSR_MTRR_PHYSMASK0  0x201
#define MSR_MTRR_DEF_TYPE   0x2ff
#define MTRR_ENABLE         0x800
#define MTRR_VALID          0x800
#define MTRR_TYPE_UC        0
#define MTRR_TYPE_WB        6
#define PTE_P    0x001
#define PTE_W    0x002
#define PTE_A    0x020
#define PTE_D    0x040
#define PTE_PS   0x080

#define BOOT_STACK_SIZE 16384
#define FAULT_STACK_SIZE 4096

/* ---- PVH ELF note: XEN_ELFNOTE_PHYS32_ENTRY (18) = 32-bit entry address ---- */
        .section .note.Xen, "a", @note
        .balign 4
        .long   4               /* namesz: "Xen\0" */
        .long   4               /* descsz */
        .long   18              /* type: XEN_ELFNOTE_PHYS32_ENTRY */
        .asciz  "Xen"
        .long   _start32        /* desc */
        .balign 4

/* ---- GDT (accessed bits preset so the CPU never writes it) ----
 * In read-only data: protect.c fills the TSS descriptor (0x18) and loads the
 * task register while the boot page tables still map everything writable;
 * after that nothing writes the GDT (ltr's busy bit is set by then). */
        .section .rodata.unilang_gdt, "a", @progbits
        .balign 16
        .globl  unilang_gdt
unilang_gdt:
gdt64:
        .quad   0                       /* 0x00 null */
        .quad   0x00af9b000000ffff      /* 0x08 code: 64-bit, DPL0, present */
        .quad   0x00cf93000000ffff      /* 0x10 data: 4 GiB flat, writable */
        .quad   0, 0                    /* 0x18 64-bit TSS (16 bytes), filled in protect.c */
gdt64_end:
        .balign 8
gdt64_ptr:
        .word   gdt64_end - gdt64 - 1
        .quad   gdt64                   /* lgdt in 32-bit mode reads 4 bytes */

/* ---- the boot area: page tables, boot state and stack (not zeroed here) ---- */
        .section .bss.unilang_boot, "aw", @nobits
        .balign 4096
boot_area_start:
boot_pml4:
        .skip   4096
        .globl  unilang_boot_pdpt
unilang_boot_pdpt:
boot_pdpt:
        .skip   4096
        .globl  unilang_boot_pd
unilang_boot_pd:
boot_pd:
        .skip   4 * 4096                /* 0..4 GiB in 2 MiB pages, without 1 GiB pages */
        .globl  unilang_boot_pt
unilang_boot_pt:
        .skip   4096                    /* 0..2 MiB in 4 KiB pages (protect.c) */
        .globl  unilang_boot_gib_pages
unilang_boot_gib_pages:
        .skip   8
        .globl  unilang_boot_ext_edx
unilang_boot_ext_edx:                   /* CPUID 0x80000001 EDX (0 without the leaf) */
        .skip   8
        .globl  unilang_start_info
        .type   unilang_start_info, @object
        .size   unilang_start_info, 8
unilang_start_info:
        .skip   8
        .globl  unilang_tsc_entry
        .type   unilang_tsc_entry, @object
        .size   unilang_tsc_entry, 8
unilang_tsc_entry:
        .skip   8
boot_area_end:

/* ---- the stacks: right above the unmapped guard page (see the linker
 * script), the boot stack, then the stack the double-fault handler runs on
 * (IST1), so a stack overflow is still reported ---- */
        .section .bss.unilang_stack, "aw", @nobits
        .balign 4096
        .globl  unilang_boot_stack
unilang_boot_stack:
        .skip   BOOT_STACK_SIZE
        .globl  unilang_boot_stack_top
unilang_boot_stack_top:
boot_stack_top:
        .skip   FAULT_STACK_SIZE
        .globl  unilang_fault_stack_top
unilang_fault_stack_top:

/* ---- code ---- */
        .section .text.boot, "ax", @progbits
        .code32
        .globl  _start32
        .type   _start32, @function
_start32:
        cli
        cld
        rdtsc                           /* as early as possible */
        movl    %eax, unilang_tsc_entry
        movl    %edx, unilang_tsc_entry + 4
        movl    %ebx, unilang_start_info

        /* CPUID 0x80000001:EDX: bit 26 = 1 GiB pages, bit 20 = NX */
        xorl    %edx, %edx
        movl    $0x80000000, %eax
        cpuid
        cmpl    $0x80000001, %eax
        jb      1f
        movl    $0x80000001, %eax
        cpuid
1:      movl    %edx, %esi
        movl    %edx, unilang_boot_ext_edx      /* for protect.c: no second cpuid */

        /* PML4[0] -> PDPT.  PDPT[0..3] = 1 GiB pages, or -> four page
         * directories of 0..4 GiB (contiguous: entry i maps i * 2 MiB) with
         * 2 MiB pages from 0 up to __image_end (page aligned; one iteration
         * for an image below 2 MiB).  Every other entry is zero (see the
         * top): protect.c maps the rest of the RAM from 64-bit code. */
        movl    $boot_pdpt + (PTE_P | PTE_W), boot_pml4
        testl   $(1 << 26), %esi
        jz      2f
        movl    $(PTE_P | PTE_W | PTE_PS), boot_pdpt
        movl    $(0x40000000 | PTE_P | PTE_W | PTE_PS), boot_pdpt + 8
        movl    $(0x80000000 | PTE_P | PTE_W | PTE_PS), boot_pdpt + 16
        movl    $(0xc0000000 | PTE_P | PTE_W | PTE_PS), boot_pdpt + 24
        movl    $1, unilang_boot_gib_pages
        jmp     4f
2:      movl    $boot_pd + (PTE_P | PTE_W), boot_pdpt
        movl    $boot_pd + 4096 + (PTE_P | PTE_W), boot_pdpt + 8
        movl    $boot_pd + 8192 + (PTE_P | PTE_W), boot_pdpt + 16
        movl    $boot_pd + 12288 + (PTE_P | PTE_W), boot_pdpt + 24
        movl    $boot_pd, %edi
        movl    $(PTE_P | PTE_W | PTE_A | PTE_D | PTE_PS), %eax
3:      movl    %eax, (%edi)            /* PD[i] = i * 2 MiB | flags */
        addl    $8, %edi
        addl    $0x200000, %eax
        cmpl    $__image_end, %eax      /* flags < 4 KiB: same as comparing the address */
        jb      3b

4:      movl    $boot_pml4, %eax
        movl    %eax, %cr3
        movl    %cr4, %eax
        orl     $CR4_PAE, %eax
        movl    %eax, %cr4

        /* EFER.LME, and EFER.NXE only if the CPU has NX */
        movl    $MSR_EFER, %ecx
        rdmsr
        orl     $EFER_LME, %eax
        testl   $(1 << 20), %esi
        jz      5f
        orl     $EFER_NXE, %eax
5:      wrmsr

        movl    %cr0, %eax
        orl     $(CR0_PE | CR0_WP | CR0_PG), %eax
        movl    %eax, %cr0

        lgdt    gdt64_ptr
        ljmp    $0x08, $start64
        .size   _start32, . - _start32

        .code64
        .type   start64, @function
start64:
        movl    $0x10, %eax
        movl    %eax, %ds
        movl    %eax, %es
        movl    %eax, %ss
        movl    %eax, %fs
        movl    %eax, %gs
        movq    $boot_stack_top, %rsp   /* 16-byte aligned */

        /* zero .bss around the boot area, 8 bytes a step (all four bounds
         * are 16-aligned): where the hypervisor emulates the guest, each
         * step of a rep string instruction is emulated, ~0.3-1 us here */
        xorl    %eax, %eax
        movq    $__bss_start, %rdi
        movq    $boot_area_start, %rcx
        subq    %rdi, %rcx
        shrq    $3, %rcx
        rep stosq
        movq    $boot_area_end, %rdi
        movq    $__bss_end, %rcx
        subq    %rdi, %rcx
        shrq    $3, %rcx
        rep stosq

        /* Caching.  QEMU microvm's PVH boot leaves MTRRdefType = 0 (MTRRs
         * off = everything uncached for a hypervisor that honours guest
         * MTRRs, e.g. Xen; current KVM ignores them).  If the CPU has MTRRs
         * and they are off: default type write-back and, when a variable
         * MTRR exists, 3..4 GiB (the MMIO hole) uncached.  Left alone when
         * already enabled (firmware or hypervisor set them up). */
        movl    $1, %eax
        cpuid
        testl   $(1 << 12), %edx        /* CPUID.1:EDX.MTRR */
        jz      6f
        movl    $MSR_MTRR_DEF_TYPE, %ecx
        rdmsr
        testl   $MTRR_ENABLE, %eax
        jnz     6f
        movl    $MSR_MTRR_CAP, %ecx
        rdmsr
        testb   $0xff, %al              /* variable range count */
        jz      5f
        movl    $36, %ebx               /* MAXPHYADDR default */
        movl    $0x80000000, %eax
        cpuid
        cmpl    $0x80000008, %eax
        jb      4f
        movl    $0x80000008, %eax
        cpuid
        movzbl  %al, %ebx
4:      movl    %ebx, %ecx              /* edx = (1 << (MAXPHYADDR - 32)) - 1 */
        subl    $32, %ecx
        movl    $1, %edx
        shll    %cl, %edx
        decl    %edx
        movl    $MSR_MTRR_PHYSMASK0, %ecx
        movl    $(0xc0000000 | MTRR_VALID), %eax
        wrmsr
        movl    $MSR_MTRR_PHYSBASE0, %ecx
        movl    $(0xc0000000 | MTRR_TYPE_UC), %eax
        xorl    %edx, %edx
        wrmsr
5:      movl    $MSR_MTRR_DEF_TYPE, %ecx
        movl    $(MTRR_ENABLE | MTRR_TYPE_WB), %eax
        xorl    %edx, %edx
        wrmsr
6:
        xorl    %ebp, %ebp
        call    unilang_boot_main
7:      cli
        hlt
        jmp     7b
        .size   start64, . - start64
