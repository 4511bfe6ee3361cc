; bench: sieve of Eratosthenes over 8192 numbers at 0x1000:0000, prints the prime count
    mov ax, 0x1000
    mov es, ax
    mov ds, ax
    mov cx, 8192
    xor di, di
    mov al, 1
    rep stosb
    mov byte ptr [0], 0
    mov byte ptr [1], 0
    mov si, 2
outer:
    mov ax, si
    mul si
    cmp ax, 8192
    jae count
    cmp byte ptr [si], 0
    je next
    mov bx, ax
mark:
    mov byte ptr [bx], 0
    add bx, si
    cmp bx, 8192
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
    cmp bx, 8192
    jb cloop
    ; print AX (1028 primes below 8192) as 4 hex digits
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
