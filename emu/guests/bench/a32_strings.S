@ bench (A32, the virt board): block and byte string work on two 4 KiB
@ arrays, A at 0x40100000 (A[i] = 7 * i mod 256 to start) and B at
@ 0x40110000.  Each of SCALE passes p: fill B with the byte p (STMIA of
@ four words), copy A[0..3583] to B at offset p mod 512 (an LDRB/STRB
@ loop: the offset is any byte), then A[i] = A[i] + B[i] (mod 256, a
@ byte load/add/store loop).  Prints h = rol32(h, 5) xor A[i] over A,
@ from h = 0.
.set SCALE, 260                 @ passes
        .set    ARR_A, 0x40100000
        .set    ARR_B, 0x40110000
        .include "a32_entry.inc"
        ldr     r8, =ARR_A
        ldr     r9, =ARR_B
        ldr     r10, =SCALE
        mov     r0, r8
        mov     r1, #0
        mov     r2, #4096
init:
        strb    r1, [r0], #1
        add     r1, r1, #7
        subs    r2, r2, #1
        bne     init
        mov     r11, #0                 @ the pass
pass:
        and     r1, r11, #0xff          @ the byte p, in every byte of r1-r3, r12
        orr     r1, r1, r1, lsl #8
        orr     r1, r1, r1, lsl #16
        mov     r2, r1
        mov     r3, r1
        mov     r12, r1
        mov     r0, r9
        mov     r4, #4096 / 16
fill:
        stmia   r0!, {r1-r3, r12}
        subs    r4, r4, #1
        bne     fill
        mov     r0, r8
        mov     r1, r11, lsl #23        @ p mod 512, in bits 31:23
        add     r1, r9, r1, lsr #23
        mov     r2, #3584
copy:
        ldrb    r3, [r0], #1
        strb    r3, [r1], #1
        subs    r2, r2, #1
        bne     copy
        mov     r0, r9
        mov     r1, r8
        mov     r2, #4096
mix:
        ldrb    r3, [r0], #1
        ldrb    r12, [r1]
        add     r3, r3, r12
        strb    r3, [r1], #1
        subs    r2, r2, #1
        bne     mix
        add     r11, r11, #1
        cmp     r11, r10
        blo     pass
        mov     r0, r8
        mov     r3, #0                  @ h
        mov     r2, #4096
hash:
        ldrb    r1, [r0], #1
        eor     r3, r1, r3, ror #27     @ rol(h, 5) xor A[i]
        subs    r2, r2, #1
        bne     hash
        mov     r0, r3
        b       a32_done

        .include "a32_out.inc"
