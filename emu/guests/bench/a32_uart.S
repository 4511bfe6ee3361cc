@ bench (A32, the virt board): polled UART output.  Each line is the
@ generator of a32_lcg.S 64 steps on (from x = 1; 16-bit halves,
@ a32_lcg.inc) in decimal (digits by UMULL with 0xCCCCCCCD: n / 10 =
@ (n * 0xCCCCCCCD) >> 35), each byte written to the PL011 once its flag
@ register says the transmit FIFO is not full, until SCALE KiB are out;
@ then the Fletcher-16 pair s2:s1 of those bytes (s1 += byte, s2 += s1,
@ mod 2**16) in hex.
.set SCALE, 110                 @ KiB printed (at least 100 KB)
        .include "a32_lcg.inc"
        .include "a32_entry.inc"
        lcg_start                       @ x = 1 (r4, r5), the constants (r8-r10)
        mov     r6, #0                  @ s1
        mov     r7, #0                  @ s2
        mov     r11, #0                 @ bytes printed
line:
        mov     r3, #64
step:
        lcg_step
        subs    r3, r3, #1
        bne     step
        orr     r0, r4, r5, lsl #16     @ x
        ldr     r12, =0xcccccccd
        mov     r2, #0                  @ digits
digits:
        umull   r1, r3, r0, r12
        mov     r3, r3, lsr #3          @ n / 10
        sub     r1, r0, r3, lsl #3
        sub     r1, r1, r3, lsl #1      @ n mod 10
        push    {r1}
        add     r2, r2, #1
        movs    r0, r3
        bne     digits
print:
        pop     {r0}
        add     r0, r0, #'0'
        bl      putc
        subs    r2, r2, #1
        bne     print
        mov     r0, #'\n'
        bl      putc
        ldr     r1, =SCALE * 1024
        cmp     r11, r1
        blo     line
        mov     r0, r6, lsl #16
        mov     r0, r0, lsr #16
        orr     r0, r0, r7, lsl #16
        b       a32_done

@ putc: r0 out on the PL011 once its transmit FIFO is not full; counted
@ (r11) and summed (s1 in r6, s2 in r7); r1 and r12 change
putc:
        ldr     r12, =UART
poll:
        ldr     r1, [r12, #UART_FR]
        tst     r1, #FR_TXFF
        bne     poll
        strb    r0, [r12]
        add     r6, r6, r0
        add     r7, r7, r6
        add     r11, r11, #1
        bx      lr

        .include "a32_out.inc"
