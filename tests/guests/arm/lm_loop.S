@ bench (ITERS = 0x20000): an unprivileged loop -- from SVC mode (as out of
@ reset) to User mode by an exception return (MOVS pc, lr with SPSR = USR;
@ ARM ARM B1.8.10), then 0x20000 iterations of add/eor/subs/bne.  The result
@ goes back to the privileged side by SVC #0 through the vector table at
@ VBAR (B4.1.156); the handler prints it as 8 hex digits and exits.
@ The ARM counterpart of the x86 long-mode ring-3 loop.
@
@ Python: a = b = 0; for c in range(0x20000, 0, -1): a = (a + c) % 2**32; b ^= a
        .text
        .global _start
_start:
        ldr     sp, =0x40200000         @ sp_svc
        adr     r0, vectors
        mcr     p15, 0, r0, c12, c0, 0  @ VBAR
        mov     r0, #0x10               @ User mode, IRQ and FIQ enabled, ARM state
        msr     spsr_cxsf, r0
        adr     lr, user
        movs    pc, lr

user:
        ldr     r2, =0x20000
        mov     r0, #0
        mov     r1, #0
again:
        add     r0, r0, r2
        eor     r1, r1, r0
        subs    r2, r2, #1
        bne     again
        svc     #0
user_hang:
        b       user_hang

        .align  5
vectors:
        b       .                       @ reset
        b       .                       @ undefined instruction
        b       svc_entry               @ supervisor call
        b       .                       @ prefetch abort
        b       .                       @ data abort
        b       .                       @ (reserved)
        b       .                       @ IRQ
        b       .                       @ FIQ

svc_entry:
        mov     r0, r1
        b       hex_exit

        .include "lib.S"
