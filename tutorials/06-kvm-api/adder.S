; adder.S -- a guest for lab 6's VMM: it uses the "adder" device.
;
; The adder is a device of the VMM, not of the CPU: an OUT of a byte to
; port 0x10 adds it to the device's 16-bit sum; an IN from port 0x11 reads
; the sum's low byte, from port 0x12 its high byte.  The guest adds the
; bytes of "kvm" (0x6b + 0x76 + 0x6d) and prints "sum: 0x" and the sum in
; hex on COM1, then halts.

    mov si, word_
add_next:
    lodsb
    test al, al
    jz print
    out 0x10, al               ; the adder: sum += AL
    jmp add_next
print:
    mov si, prefix
    call puts
    in al, 0x12                ; the sum's high byte
    call puthex2
    in al, 0x11                ; the sum's low byte
    call puthex2
    mov al, 10
    out dx, al
    hlt

; puts: the NUL-terminated string at SI to COM1 (DX = 0x3f8 after)
puts:
    mov dx, 0x3f8
puts_next:
    lodsb
    test al, al
    jz puts_done
    out dx, al
    jmp puts_next
puts_done:
    ret

; puthex2: AL as two hex digits on COM1
puthex2:
    mov ah, al
    shr al, 4
    call digit
    mov al, ah
    and al, 0x0f
digit:
    add al, '0'
    cmp al, '9'
    jbe digit_out
    add al, 'a' - '9' - 1
digit_out:
    mov dx, 0x3f8
    out dx, al
    ret

word_:  .asciz "kvm"
prefix: .asciz "sum: 0x"
