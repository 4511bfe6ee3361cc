; Decimal-adjust instructions over all their inputs, checksummed.
;
; For each row of the table at `tests` the driver runs one instruction stub
; for every AL (0..255), every AH of the row's AH table and every FLAGS value
; of its flag table, and folds AX and the flags the SDM defines for that
; instruction (Vol. 2A "AAA" "AAD" "AAM" "AAS" "DAA" "DAS") into a 32-bit
; FNV-1a-style hash, then prints "NAME HHHHHHHH" on COM1.  The undefined
; flags are masked out, so any SDM-conforming x86 prints the same lines:
;   DAA, DAS  CF AF SF ZF PF   (mask 0x00D5; OF undefined)
;   AAA, AAS  CF AF            (mask 0x0011)
;   AAM, AAD  SF ZF PF         (mask 0x00C4; OF AF CF undefined)
; AAM over bases 10, 16, 7, 2, 1 and 255; AAD over every AX with bases 10,
; 16 and 7.  It is a boot sector: it fits in 510 bytes, and the same bytes run
; under qemu-system-i386 from a floppy image (tests/differential/test_bcd_qemu.py).
; Ends through isa-debug-exit with 0 (status 1).
    cli
    xor ax, ax
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov sp, 0x7000
    cld
    mov di, 0x0600          ; 256-byte table 0..255: every AH
    xor al, al
fill:
    stosb
    inc al
    jnz fill
    mov si, tests
next_test:
    cmp word ptr [si], 0
    je done
    xor ebp, ebp
    xor di, di              ; flag-table offset
flag_loop:
    xor dx, dx              ; AH index
ah_loop:
    xor cx, cx              ; AL
al_loop:
    mov bx, word ptr [si+8]
    add bx, dx
    mov ah, byte ptr [bx]
    mov al, cl
    mov bx, word ptr [si+6]
    push word ptr [bx+di]
    popf
    call word ptr [si+2]
    pushf
    pop bx
    and bx, word ptr [si+4]
    shl ebx, 16
    mov bx, ax
    xor ebp, ebx
    imul ebp, ebp, 0x01000193
    rol ebp, 13
    inc cx
    cmp cx, 256
    jb al_loop
    inc dx
    cmp dx, word ptr [si+10]
    jb ah_loop
    add di, 2
    cmp di, word ptr [si+12]
    jb flag_loop
    call report
    add si, 14
    jmp next_test
done:
    xor al, al
    out 0xf4, al
    hlt
    jmp done

; print the zero-terminated name at [si], a space, EBP in hex and a newline
report:
    push si
    mov dx, 0x3f8
    mov si, word ptr [si]
name:
    lodsb
    test al, al
    jz hex
    out dx, al
    jmp name
hex:
    mov al, 0x20
    out dx, al
    mov cx, 8
digit:
    rol ebp, 4
    mov ax, bp
    and al, 15
    add al, 0x30
    cmp al, 0x3a
    jb put
    add al, 7
put:
    out dx, al
    dec cx
    jnz digit
    mov al, 10
    out dx, al
    pop si
    ret

; the instructions under test, each followed by RET
s_daa: daa
    ret
s_das: das
    ret
s_aaa: aaa
    ret
s_aas: aas
    ret
s_aam10: db 0xd4, 10
    ret
s_aam16: db 0xd4, 16
    ret
s_aam7: db 0xd4, 7
    ret
s_aam2: db 0xd4, 2
    ret
s_aam1: db 0xd4, 1
    ret
s_aam255: db 0xd4, 255
    ret
s_aad10: db 0xd5, 10
    ret
s_aad16: db 0xd5, 16
    ret
s_aad7: db 0xd5, 7
    ret

; FLAGS inputs: CF and AF in all four combinations, the other flags 0 and 1
f4: dw 0x0002, 0x0003, 0x0012, 0x08d7
f1: dw 0x08c6
; AH inputs for AAA/AAS (a carry out of AL reaches AH on the 286 and later)
ah6: db 0x00, 0x01, 0x7f, 0x80, 0xfe, 0xff
ah1: db 0x5a

; name, stub, defined-flags mask, flag table, AH table, AH count, flag bytes
tests:
    dw n_daa, s_daa, 0x00d5, f4, ah1, 1, 8
    dw n_das, s_das, 0x00d5, f4, ah1, 1, 8
    dw n_aaa, s_aaa, 0x0011, f4, ah6, 6, 8
    dw n_aas, s_aas, 0x0011, f4, ah6, 6, 8
    dw n_aam10, s_aam10, 0x00c4, f1, ah1, 1, 2
    dw n_aam16, s_aam16, 0x00c4, f1, ah1, 1, 2
    dw n_aam7, s_aam7, 0x00c4, f1, ah1, 1, 2
    dw n_aam2, s_aam2, 0x00c4, f1, ah1, 1, 2
    dw n_aam1, s_aam1, 0x00c4, f1, ah1, 1, 2
    dw n_aam255, s_aam255, 0x00c4, f1, ah1, 1, 2
    dw n_aad10, s_aad10, 0x00c4, f1, 0x0600, 256, 2
    dw n_aad16, s_aad16, 0x00c4, f1, 0x0600, 256, 2
    dw n_aad7, s_aad7, 0x00c4, f1, 0x0600, 256, 2
    dw 0

n_daa: db 0x44, 0x41, 0x41, 0   ; "DAA"
n_das: db 0x44, 0x41, 0x53, 0   ; "DAS"
n_aaa: db 0x41, 0x41, 0x41, 0   ; "AAA"
n_aas: db 0x41, 0x41, 0x53, 0   ; "AAS"
n_aam10: db 0x41, 0x41, 0x4d, 0x31, 0x30, 0   ; "AAM10"
n_aam16: db 0x41, 0x41, 0x4d, 0x31, 0x36, 0   ; "AAM16"
n_aam7: db 0x41, 0x41, 0x4d, 0x37, 0   ; "AAM7"
n_aam2: db 0x41, 0x41, 0x4d, 0x32, 0   ; "AAM2"
n_aam1: db 0x41, 0x41, 0x4d, 0x31, 0   ; "AAM1"
n_aam255: db 0x41, 0x41, 0x4d, 0x32, 0x35, 0x35, 0   ; "AAM255"
n_aad10: db 0x41, 0x41, 0x44, 0x31, 0x30, 0   ; "AAD10"
n_aad16: db 0x41, 0x41, 0x44, 0x31, 0x36, 0   ; "AAD16"
n_aad7: db 0x41, 0x41, 0x44, 0x37, 0   ; "AAD7"
