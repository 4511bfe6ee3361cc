; bench (real mode): a byte sieve of Eratosthenes in one 64 KiB segment
; (0x1000:0), ten passes, pass k over the numbers below
; 100 * SCALE - 97 * k; prints the 32-bit sum of the primes counted.
; Fill, cross out from i * i for every i with i * i below the size, count.
.set SCALE, 650                 ; hundreds of numbers (at most 655)
.include "rm_entry.inc"
    mov ax, 0x1000
    mov ds, ax
    mov word [0xff00], 0        ; the sum (past the largest sieve)
    mov word [0xff02], 0
    mov bp, SCALE * 100         ; the size of this pass
    mov cx, 10
pass:
    push cx
    xor bx, bx
fill:
    mov byte [bx], 1
    inc bx
    cmp bx, bp
    jb fill
    mov si, 2
cross_next:
    mov ax, si
    mul si
    cmp ax, bp
    jae crossed
    cmp byte [si], 0
    je not_prime
    mov bx, ax
cross:
    mov byte [bx], 0
    add bx, si
    cmp bx, bp
    jb cross
not_prime:
    inc si
    jmp cross_next
crossed:
    mov bx, 2
    xor ax, ax
count:
    add al, [bx]
    adc ah, 0
    inc bx
    cmp bx, bp
    jb count
    add [0xff00], ax
    adc word [0xff02], 0
    sub bp, 97
    pop cx
    loop pass
    mov ax, [0xff00]
    mov dx, [0xff02]
    jmp rm_done

.include "rm_out.inc"
