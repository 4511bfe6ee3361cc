; lidt_zero.S -- LIDT with limit 0, then INT 3, in real mode.
;
; SDM Vol. 3A §20.1.4: in real mode an interrupt whose IVT entry lies past
; the IDTR limit raises #GP; with limit 0 so does the #GP, then the double
; fault: a triple fault (shutdown).  The guest first zeroes the IVT, so an
; engine that ignores the limit (this host's KVM) jumps to 0000:0000 and runs
; on through zeroed memory (ADD [BX+SI], AL with AL = 0) back into this code,
; printing "s" again and again: it never ends by itself.
    xor ax, ax
    mov es, ax
    xor di, di
    mov cx, 512
    cld
    rep stosw
    mov dx, 0x3f8
    mov al, 0x73
    out dx, al
    mov al, 0x0a
    out dx, al
    lidt [idtr]
    xor ax, ax
    int 3
    mov al, 0x78
    out dx, al
    hlt
idtr: .word 0
      .long 0
