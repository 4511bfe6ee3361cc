@ heapinfo: semihosting SYS_HEAPINFO, its four words printed as 8 hex digits
@ (heap base, heap limit, stack base, stack limit); 12 KiB of image, so the
@ free RAM above the image is what the answer describes
        .text
        .global _start
_start:
        ldr     sp, =0x40200000
        mov     r0, #0x16               @ SYS_HEAPINFO
        adr     r1, pointer             @ r1 -> a word -> the 4-word block
        svc     0x123456
        adr     r6, block
        mov     r7, #4
1:      ldr     r0, [r6], #4
        mov     r1, #8
        bl      puthex
        subs    r7, r7, #1
        bne     1b
        mov     r0, #0
        b       exit
pointer:
        .word   block
block:
        .word   0, 0, 0, 0
        .ltorg
        .space  0x3000

        .include "lib.S"
