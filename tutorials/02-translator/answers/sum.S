; Lab 2, exercise 1 (answer key): AX = 1 + 2 + ... + CX (mod 65536), then HLT.
    xor ax, ax
again:
    add ax, cx              ; the whole loop is two instructions: one block
    loop again              ; that jumps to itself, chained on every pass
    hlt
