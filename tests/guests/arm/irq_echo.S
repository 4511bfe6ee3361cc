@ irq_echo: interrupt-driven input -- the PL011's receive interrupt (SPI 1,
@ ID 33) through the GIC to the CPU's IRQ exception (vector table at VBAR);
@ the handler acknowledges it (GICC_IAR), echoes every byte waiting in the
@ receive FIFO in upper case, and ends it (GICC_EOIR); the main program
@ sleeps in WFI until a '.' has been echoed, then prints a newline and exits.
@ Python: text[:text.index('.') + 1].upper() + '\n'
        .equ    GICD, 0x08000000
        .equ    GICC, 0x08010000
        .equ    UART_IMSC, 0x38
        .equ    FR_RXFE, 0x10
        .equ    UART_ID, 33
        .text
        .global _start
_start:
        ldr     sp, =0x40200000         @ sp_svc
        msr     cpsr_c, #0xD2           @ IRQ mode (I, F masked): its own stack
        ldr     sp, =0x40180000
        msr     cpsr_c, #0xD3           @ back to SVC
        adr     r0, vectors
        mcr     p15, 0, r0, c12, c0, 0  @ VBAR
        ldr     r4, =GICD
        ldr     r5, =GICC
        mov     r0, #0x80
        strb    r0, [r4, #0x400 + UART_ID]      @ GICD_IPRIORITYR: priority 0x80
        mov     r0, #1 << (UART_ID - 32)
        str     r0, [r4, #0x104]                @ GICD_ISENABLER1
        mov     r0, #1
        str     r0, [r4]                        @ GICD_CTLR: on
        str     r0, [r5]                        @ GICC_CTLR: on
        mov     r0, #0xF0
        str     r0, [r5, #4]                    @ GICC_PMR
        ldr     r6, =UART
        mov     r0, #0x10
        str     r0, [r6, #UART_IMSC]            @ RXIM
@ the flag is tested with IRQs masked, and WFI wakes on a pending IRQ even
@ so (B1.8.13): no interrupt can set it between the test and the sleep
sleep:
        cpsid   i
        ldr     r0, done
        cmp     r0, #0
        bne     finished
        wfi
        cpsie   i                       @ take the interrupt that woke us
        b       sleep
finished:
        mov     r0, #'\n'
        bl      putc
        mov     r0, #0
        b       exit

done:
        .word   0

        .align  5
vectors:
        b       .                       @ reset
        b       .                       @ undefined instruction
        b       .                       @ supervisor call
        b       .                       @ prefetch abort
        b       .                       @ data abort
        b       .                       @ (reserved)
        b       irq_entry               @ IRQ
        b       .                       @ FIQ

irq_entry:
        push    {r0-r3, r12, lr}
        ldr     r1, [r5, #0x0C]         @ GICC_IAR
        cmp     r1, #UART_ID
        bne     irq_end
drain:
        ldr     r2, [r6, #UART_FR]
        tst     r2, #FR_RXFE
        bne     irq_eoi
        ldr     r0, [r6]
        and     r0, r0, #0xFF
        ldr     r3, done
        cmp     r3, #0
        bne     drain                   @ after the '.': read and drop
        cmp     r0, #'.'
        moveq   r3, #1
        streq   r3, done
        sub     r2, r0, #'a'
        cmp     r2, #'z' - 'a'
        subls   r0, r0, #'a' - 'A'
        bl      putc
        b       drain
irq_eoi:
        str     r1, [r5, #0x10]         @ GICC_EOIR
irq_end:
        pop     {r0-r3, r12, lr}
        subs    pc, lr, #4

        .include "lib.S"
