@ bench (A32, the virt board): a byte sieve of Eratosthenes (LDRB/STRB),
@ the array at 0x40100000: ten passes, pass k over the numbers below
@ 100 * SCALE - 97 * k (fill with ones, cross out the multiples of each
@ prime from its square, count the ones from 2 on); prints the sum of the
@ ten counts.
.set SCALE, 650                 @ hundreds of numbers
        .set    SIEVE, 0x40100000
        .include "a32_entry.inc"
        ldr     r8, =SIEVE
        mov     r9, #0                  @ the sum
        ldr     r10, =SCALE * 100       @ the size of this pass
        mov     r11, #10                @ passes
pass:
        mov     r1, #1
        mov     r2, #0
fill:
        strb    r1, [r8, r2]
        add     r2, r2, #1
        cmp     r2, r10
        blo     fill
        mov     r3, #2                  @ p
cross_next:
        mul     r0, r3, r3
        cmp     r0, r10
        bhs     crossed
        ldrb    r1, [r8, r3]
        cmp     r1, #0
        beq     not_prime
        mov     r1, #0
cross:
        strb    r1, [r8, r0]
        add     r0, r0, r3
        cmp     r0, r10
        blo     cross
not_prime:
        add     r3, r3, #1
        b       cross_next
crossed:
        mov     r2, #2
        mov     r0, #0
count:
        ldrb    r1, [r8, r2]
        add     r0, r0, r1
        add     r2, r2, #1
        cmp     r2, r10
        blo     count
        add     r9, r9, r0
        sub     r10, r10, #97
        subs    r11, r11, #1
        bne     pass
        mov     r0, r9
        b       a32_done

        .include "a32_out.inc"
