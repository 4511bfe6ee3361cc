; kasou demo guest (-M pc, real mode, loaded at 0000:7C00)
;
; Programs COM1 as a BIOS would (9600 8N1), prints a greeting through the
; UART, counts to 1000 to give the CPU something to do, prints the count
; in decimal, and halts with interrupts disabled (exit status 0).

start:
    cli
    xor ax, ax
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov sp, 0x7c00

    ; line control: DLAB on, divisor 12 (9600 baud), then 8N1
    mov dx, 0x3fb
    mov al, 0x80
    out dx, al
    mov dx, 0x3f8
    mov al, 12
    out dx, al
    mov dx, 0x3f9
    xor al, al
    out dx, al
    mov dx, 0x3fb
    mov al, 0x03
    out dx, al

    mov si, hello
    call puts

    xor cx, cx
count:
    inc cx
    cmp cx, 1000
    jne count

    mov ax, cx
    call putdec
    mov si, tail
    call puts
    cli
    hlt

; puts: print the NUL-terminated string at DS:SI, waiting for THRE each byte
puts:
    lodsb
    test al, al
    jz puts_done
    call putc
    jmp puts
puts_done:
    ret

; putc: AL -> COM1
putc:
    push dx
    push ax
    mov dx, 0x3fd
wait_thre:
    in al, dx
    test al, 0x20
    jz wait_thre
    pop ax
    mov dx, 0x3f8
    out dx, al
    pop dx
    ret

; putdec: AX in decimal
putdec:
    mov bx, 10
    xor cx, cx
div_loop:
    xor dx, dx
    div bx
    push dx
    inc cx
    test ax, ax
    jnz div_loop
print_loop:
    pop ax
    add al, 0x30
    call putc
    loop print_loop
    ret

hello: .asciz "Hello from the kasou demo guest!\nCounting to "
tail:  .asciz ", done.\n"
