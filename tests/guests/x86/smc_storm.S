; smc_storm.S -- self-modifying code in a loop: every iteration stores a new
; immediate into the ADD it runs next (SDM Vol. 3A §11.6: a store into code
; is seen by the instructions fetched after it), so a translator that
; retranslates the block after each store translates once per iteration.
; COUNT iterations; BX sums the immediates (CL's low byte, sign-extended:
; ADD r/m16, imm8) and goes out to the debug console.

COUNT = 3000

    xor ax, ax
    mov ds, ax
    xor bx, bx
    mov cx, COUNT
again:
    mov byte ptr [patch + 2], cl
patch:
    add bx, 0x7f
    loop again
    mov al, bl
    out 0xe9, al
    mov al, bh
    out 0xe9, al
    mov al, 0
    out 0xf4, al
    hlt
