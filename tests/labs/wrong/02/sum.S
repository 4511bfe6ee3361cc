; sums right, but with a four-instruction pass
    xor ax, ax
again:
    add ax, cx
    nop
    dec cx
    jnz again
    hlt
