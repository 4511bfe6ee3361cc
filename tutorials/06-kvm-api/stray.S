; stray.S -- a guest that writes to a port no device of lab 6's VMM serves.
    mov al, 1
    out 0x99, al
    hlt
