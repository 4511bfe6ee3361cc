@ a32_start.S -- the start of every C bench guest on the virt board (GNU as,
@ A32): entered at _start in SVC mode, it sets the stack below 0x40200000,
@ calls guest_main, prints its result as eight lower-case hex digits and a
@ newline on the PL011 UART (0x09000000) and stops with status 0 through
@ Arm semihosting SYS_EXIT_EXTENDED (ADP_Stopped_ApplicationExit), as the
@ A32 bench guests end (emu/guests/bench/a32_out.inc).
        .section .text.start, "ax"
        .arm
        .global _start
_start:
        ldr     sp, =0x40200000
        bl      guest_main
        ldr     r12, =0x09000000
        mov     r2, #8
1:      mov     r1, r0, lsr #28
        cmp     r1, #10
        addlo   r1, r1, #'0'
        addhs   r1, r1, #'a' - 10
        strb    r1, [r12]
        mov     r0, r0, lsl #4
        subs    r2, r2, #1
        bne     1b
        mov     r1, #'\n'
        strb    r1, [r12]
        ldr     r1, =exit_block
        mov     r0, #0x20
        svc     0x123456
2:      b       2b
        .ltorg
        .align  2
exit_block:
        .word   0x20026, 0
