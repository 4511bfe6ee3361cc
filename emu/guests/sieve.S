; bench: sieve of Eratosthenes over 61440 (0xF000) numbers at 0x1000:0000, prints
; the prime count (about 800,000 instructions: long enough that a translator's
; start-up is not most of what is measured)
    mov ax, 0x1000
    mov es, ax
    mov ds, ax
    mov cx, 0xf000
    xor di, di
    mov al, 1
    rep stosb
    mov byte ptr [0], 0
    mov byte ptr [1], 0
    mov si, 2
outer:
    mov ax, si
    mul si
    cmp ax, 0xf000
    jae count
    cmp byte ptr [si], 0
    je next
    mov bx, ax
mark:
    mov byte ptr [bx], 0
    add bx, si
    cmp bx, 0xf000
    jb mark
next:
    inc si
    jmp outer
count:
    xor bx, bx
    xor ax, ax
cloop:
    add al, [bx]
    adc ah, 0
    inc bx
    cmp bx, 0xf000
    jb cloop
    ; print AX (6179 primes below 61440) as 4 hex digits
    mov cx, 4
    mov dx, 0x3f8
hex:
    rol ax, 4
    push ax
    and al, 0x0f
    cmp al, 10
    jb digit
    add al, 7
digit:
    add al, 0x30
    out dx, al
    pop ax
    loop hex
    mov al, 10
    out dx, al
    mov al, 0
    out 0xf4, al
