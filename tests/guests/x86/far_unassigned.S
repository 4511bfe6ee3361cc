; Real-mode code outside RAM: with -m 64K, a far jump to F000:FFF0 (where a
; PC's reset vector would be) reaches unassigned memory.  The fetch reads all
; ones, as a data read does: FF FF is FF /7, undefined: #UD (SDM Vol. 2A
; opcode map; Vol. 3A §20.1.4: real-mode interrupts through the IVT).  The
; handler prints "U" and the pushed IP and CS as raw bytes (high, low) on
; COM1 and exits through isa-debug-exit with 0x55.
; tests/differential/test_unassigned_memory.py runs it on every engine.
    xor ax, ax
    mov ds, ax
    mov ss, ax
    mov sp, 0x7000
    mov word ptr [6*4], ud
    mov word ptr [6*4+2], 0
    jmp far 0xf000:0xfff0
ud:
    pop bx
    pop cx
    mov dx, 0x3f8
    mov al, 'U'
    out dx, al
    mov al, bh
    out dx, al
    mov al, bl
    out dx, al
    mov al, ch
    out dx, al
    mov al, cl
    out dx, al
    mov al, 0x55
    out 0xf4, al
