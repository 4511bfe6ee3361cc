; bench (ITERS = 0x20000): a CPL-3 64-bit loop -- real mode -> protected mode -> long mode
; (SDM Vol. 3A §10.8.5; one 2 MiB identity page, user-accessible), IRETQ to
; ring 3, then 0x20000 iterations of add/xor/dec/jnz on 64-bit registers.  The
; result (RBX) goes to ring 0 by SYSCALL (STAR/LSTAR, §5.8.8); the handler
; prints it as 16 hex digits and exits through isa-debug-exit.  On KVM the
; loop runs natively at CPL 3.
;
; Python: a = b = 0; for c in range(0x20000, 0, -1): a = (a + c) % 2**64; b ^= a

    cli
    xor ax, ax
    mov ds, ax
    mov ss, ax
    mov sp, 0x7c00
    lgdt [gdt_desc]
    mov eax, cr0
    or eax, 1
    mov cr0, eax
    jmp far 0x08:pm32

.code32
pm32:
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov esp, 0x90000
    mov edi, 0x20000
    mov ecx, 3 * 0x400
    xor eax, eax
    cld
    rep stosd
    mov dword ptr [0x20000], 0x21007       ; PML4E 0 -> PDPT, P|RW|US
    mov dword ptr [0x21000], 0x22007       ; PDPTE 0 -> PD, P|RW|US
    mov dword ptr [0x22000], 0x00000087    ; PDE 0: 2 MiB page, P|RW|US|PS
    mov eax, 0x20000
    mov cr3, eax
    mov eax, cr4
    or eax, 0x20                           ; CR4.PAE
    mov cr4, eax
    mov ecx, 0xc0000080                    ; IA32_EFER: LME | SCE
    rdmsr
    or eax, 0x101
    wrmsr
    mov eax, cr0
    or eax, 0x80000000                     ; CR0.PG
    mov cr0, eax
    jmp far 0x18:lm64                      ; 32-bit code: EA, a 32-bit offset,
                                           ; the selector
                                           ; (64-bit code from here)

.code64
lm64:
    mov ax, 0x20
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov rsp, 0x90000
    mov ecx, 0xc0000081                    ; STAR: SYSCALL CS 0x18, SYSRET base 0x28
    xor eax, eax
    mov edx, 0x00280018
    wrmsr
    mov ecx, 0xc0000082                    ; LSTAR
    mov eax, syscall_entry
    xor edx, edx
    wrmsr
    push 0x33                              ; SS (ring 3)
    push 0x80000                           ; RSP
    push 0x2                               ; RFLAGS
    push 0x3b                              ; CS: 64-bit code, ring 3
    mov rax, user
    push rax
    iretq

user:
    mov ecx, 0x20000
    xor eax, eax
    xor ebx, ebx
again:
    add rax, rcx
    xor rbx, rax
    dec rcx
    jnz again
    mov rdi, rbx
    mov eax, 1
    syscall
user_hang:
    jmp user_hang

; ring 0: print RDI as 16 hex digits, then exit
syscall_entry:
    mov rsp, 0x90000
    mov rbx, rdi
    mov ecx, 0x10
    mov dx, 0x3f8
hex_next:
    rol rbx, 4
    mov al, bl
    and al, 0x0f
    cmp al, 0xa
    jb hex_digit
    add al, 0x27
hex_digit:
    add al, 0x30
    out dx, al
    dec ecx
    jnz hex_next
    mov al, 0xa
    out dx, al
    mov al, 0
    out 0xf4, al
    hlt

gdt:
    dd 0, 0
    dd 0x0000ffff, 0x00cf9b00      ; 0x08 code32, ring 0
    dd 0x0000ffff, 0x00cf9300      ; 0x10 data, ring 0
    dd 0x0000ffff, 0x00af9b00      ; 0x18 code64, ring 0
    dd 0x0000ffff, 0x00cf9300      ; 0x20 data, ring 0
    dd 0x0000ffff, 0x00cffb00      ; 0x28 code32, ring 3
    dd 0x0000ffff, 0x00cff300      ; 0x30 data, ring 3
    dd 0x0000ffff, 0x00affb00      ; 0x38 code64, ring 3
gdt_desc:
    dw 8 * 8 - 1
    dd gdt
