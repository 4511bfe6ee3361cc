; bench (real mode): string instructions.  A (0x1000:0) and B (0x2000:0)
; are 4096 bytes; A[i] = 7 * i to start.  Each of SCALE passes p:
;   B = p & 0xff                       (REP STOSB, 4096 bytes)
;   B[p % 512 ...] = A[0 .. 3584)      (REP MOVSB)
;   A[i] = A[i] + B[i] (mod 256)       (a LODSB / ADD / STOSB loop)
; then prints h over A, h = rol32(h, 5) xor A[i], with 16-bit registers.
.set SCALE, 420                 ; passes
.include "rm_entry.inc"
    mov ax, 0x1000
    mov es, ax
    xor di, di
    xor al, al
    mov cx, 4096
init:
    stosb
    add al, 7
    loop init
    xor dx, dx                  ; the pass
pass:
    mov ax, 0x2000
    mov es, ax
    xor di, di
    mov al, dl
    mov cx, 4096
    rep stosb
    mov ax, 0x1000
    mov ds, ax
    xor si, si
    mov di, dx
    and di, 511
    mov cx, 3584
    rep movsb
    mov ax, 0x2000
    mov ds, ax
    mov ax, 0x1000
    mov es, ax
    xor si, si
    xor di, di
    mov cx, 4096
mix:
    lodsb
    add al, es:[di]
    stosb
    loop mix
    inc dx
    cmp dx, SCALE
    jb pass
    mov ax, 0x1000
    mov ds, ax
    xor si, si
    xor bx, bx                  ; h, low half
    xor di, di                  ; h, high half
    mov cx, 4096
hash:
    mov dx, 5
rotate:
    shl bx, 1
    rcl di, 1
    adc bx, 0
    dec dx
    jnz rotate
    lodsb
    xor bl, al
    loop hash
    mov ax, bx
    mov dx, di
    jmp rm_done

.include "rm_out.inc"
