; The 386+ real-mode extensions boot code uses, each once or more:
; 0x66/0x67 prefixes with 32-bit registers and addressing, FS/GS,
; MOVZX/MOVSX, Jcc rel16, SETcc, BT/BTS/BTR/BTC, BSF/BSR, SHLD/SHRD,
; IMUL r,r/m, PUSH/POP FS/GS, CPUID.  Run in lockstep against KVM and
; unicorn (tests/differential/test_ext386.py); prints a checksum.
    xor ax, ax
    mov ds, ax
    mov ss, ax
    mov sp, 0x7000
    mov ax, 0x1234
    mov fs, ax
    mov ax, 0x2345
    mov gs, ax
    push fs
    push gs
    pop fs
    pop gs
    mov eax, 0x89abcdef
    mov ebx, 0x12345678
    mov ecx, 0x0000ff80
    movzx edx, cl
    movsx esi, cl
    movzx edi, cx
    movsx ebp, cx
    add eax, ebx
    adc edx, esi
    sub edi, ebp
    sbb esi, eax
    imul eax, ebx
    imul edx, ecx, 0x1234
    imul si, di
    cmp eax, ebx
    setl al
    setb ah
    seto bl
    setnz bh
    setp cl
    bt ebx, 3
    setc dl
    bts ebx, 9
    btr ebx, 4
    btc ebx, 31
    mov dword ptr [0x6000], 0xf0f0f0f0
    mov ecx, 37
    bt dword ptr [0x6000], ecx
    bts dword ptr [0x6000], ecx
    bsf ecx, ebx
    bsr edx, ebx
    mov esi, 0x80000001
    shld esi, ebx, 5
    shrd ebx, eax, 7
    mov cl, 3
    shld esi, eax, cl
    shrd eax, esi, cl
    mov eax, 0
    cpuid
    mov ecx, 4
    mov ebx, 0x6000
    mov eax, [ebx + ecx*2 - 4]
    lea edi, [eax + ebx*4 + 0x100]
    add eax, edi
    cmp eax, 0x5000
    jne far_label
    nop
far_label:
    xor eax, ebx
    xor eax, edx
    xor eax, esi
    mov edx, eax
    mov cx, 8
    mov bx, 0x3f8
hexloop:
    rol edx, 4
    mov al, dl
    and al, 15
    cmp al, 10
    jb digit
    add al, 7
digit:
    add al, 0x30
    xchg bx, dx
    out dx, al
    xchg bx, dx
    loop hexloop
    mov al, 10
    mov dx, 0x3f8
    out dx, al
    mov al, 0
    out 0xf4, al
