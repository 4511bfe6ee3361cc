; bench: bitwise CRC-32 (IEEE, reflected, polynomial 0xEDB88320) of an 8 KiB
; message -- the 512 bytes at 0x7c00 (this program, then zeroed RAM) sixteen
; times over -- printed in hex; 32-bit registers via the 0x66 prefix.
; Python: zlib.crc32(ram[0x7c00:0x7e00] * 16)
; (about 350,000 instructions: long enough that a translator's start-up --
; decoding and compiling the loop once -- is not most of what is measured)
    xor ax, ax
    mov ds, ax
    mov di, 16                  ; passes over the 512 bytes
    mov eax, 0xffffffff
pass_loop:
    mov si, 0x7c00
    mov cx, 512
byte_loop:
    xor bl, bl
    mov bl, [si]
    xor al, bl
    mov bx, 8
bit_loop:
    shr eax, 1
    jnc no_xor
    xor eax, 0xedb88320
no_xor:
    dec bx
    jnz bit_loop
    inc si
    loop byte_loop
    dec di
    jnz pass_loop
    not eax
    mov ebx, eax
    mov cx, 8
    mov dx, 0x3f8
hex:
    rol ebx, 4
    mov al, bl
    and al, 0x0f
    cmp al, 10
    jb digit
    add al, 7
digit:
    add al, 0x30
    out dx, al
    loop hex
    mov al, 10
    out dx, al
    mov al, 0
    out 0xf4, al
