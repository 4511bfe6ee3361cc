@ The ARM guests' library (included at the end of each guest): output
@ through the virt board's PL011 (0x09000000), exit through Arm semihosting
@ SYS_EXIT_EXTENDED with a status.  Plain ARMv4 instructions (UMULL, LDM,
@ STM), so the same code runs on arm7tdmi and cortex-a15.

        .equ    UART, 0x09000000
        .equ    UART_FR, 0x18           @ flag register
        .equ    FR_TXFF, 0x20           @ transmit FIFO full
        .equ    SYS_EXIT_EXTENDED, 0x20
        .equ    ADP_STOPPED_APPLICATION_EXIT, 0x20026

@ putc: send the byte in r0 (clobbers r12)
putc:
        ldr     r12, =UART
        strb    r0, [r12]
        bx      lr

@ puthex: r0 in r1 hex digits (its low 4*r1 bits, 1 <= r1 <= 8), upper case,
@ then a newline (clobbers r0-r2, r12)
puthex:
        push    {r4, lr}
        rsb     r2, r1, #8
        mov     r2, r2, lsl #2
        mov     r4, r0, lsl r2          @ the first digit in bits 31:28
1:      mov     r0, r4, lsr #28
        cmp     r0, #10
        addlo   r0, r0, #'0'
        addhs   r0, r0, #'A' - 10
        bl      putc
        mov     r4, r4, lsl #4
        subs    r1, r1, #1
        bne     1b
        mov     r0, #'\n'
        bl      putc
        pop     {r4, pc}

@ putdec: r0 (unsigned) in decimal, then a newline (clobbers r0-r3, r12);
@ n / 10 as (n * 0xCCCCCCCD) >> 35
putdec:
        push    {r4-r6, lr}
        sub     sp, sp, #12
        add     r4, sp, #12             @ digits are stored downwards from here
        mov     r5, r4
        ldr     r6, =0xCCCCCCCD
1:      umull   r1, r2, r0, r6
        mov     r2, r2, lsr #3          @ quotient
        add     r3, r2, r2, lsl #2
        sub     r3, r0, r3, lsl #1      @ remainder
        add     r3, r3, #'0'
        strb    r3, [r4, #-1]!
        movs    r0, r2
        bne     1b
2:      ldrb    r0, [r4], #1
        bl      putc
        cmp     r4, r5
        bne     2b
        mov     r0, #'\n'
        bl      putc
        add     sp, sp, #12
        pop     {r4-r6, pc}

@ hex_exit: print r0 as 8 hex digits, then exit with status 0
hex_exit:
        mov     r1, #8
        bl      puthex
        mov     r0, #0
        b       exit

@ exit: stop with status r0 (SYS_EXIT_EXTENDED, ADP_Stopped_ApplicationExit)
exit:
        ldr     r1, =exit_block
        str     r0, [r1, #4]
        mov     r0, #SYS_EXIT_EXTENDED
        svc     0x123456
1:      b       1b

        .ltorg
        .align  2
exit_block:
        .word   ADP_STOPPED_APPLICATION_EXIT, 0
