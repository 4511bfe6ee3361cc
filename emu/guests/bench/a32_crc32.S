@ bench (A32, the virt board): bitwise CRC-32 (IEEE, reflected, polynomial
@ 0xEDB88320: LSRS, then EORCS with the polynomial when a one fell out) of
@ a 4096-byte message, msg[i] = (13 * i + 5 + (i >> 8)) mod 256, at
@ 0x40100000, SCALE times over; prints the CRC.
.set SCALE, 70                  @ times over the message
        .set    MSG, 0x40100000
        .include "a32_entry.inc"
        ldr     r0, =MSG
        mov     r1, #5                  @ 13 * i + 5
        mov     r2, #0                  @ i
gen:
        add     r3, r1, r2, lsr #8
        strb    r3, [r0], #1
        add     r1, r1, #13
        add     r2, r2, #1
        cmp     r2, #4096
        blo     gen
        ldr     r7, =0xedb88320
        mvn     r0, #0                  @ crc = 0xFFFFFFFF
        ldr     r8, =SCALE
pass:
        ldr     r4, =MSG
        mov     r5, #4096
byte:
        ldrb    r1, [r4], #1
        eor     r0, r0, r1
        mov     r2, #8
bit:
        movs    r0, r0, lsr #1
        eorcs   r0, r0, r7
        subs    r2, r2, #1
        bne     bit
        subs    r5, r5, #1
        bne     byte
        subs    r8, r8, #1
        bne     pass
        mvn     r0, r0
        b       a32_done

        .include "a32_out.inc"
