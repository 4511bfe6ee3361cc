; ring3_iopl.S -- ring 3 in 64-bit mode with IOPL 3: CLI and port I/O allowed.
;
; SDM Vol. 1 §19.5.1 (I/O privilege level) and Vol. 3A §2.8 / the CLI
; reference: at CPL 3, CLI and IN/OUT are allowed when CPL <= RFLAGS.IOPL.
; The kernel enters long mode as long_boot.S does (PML4 0x20000 -> PDPT
; 0x21000 -> PD 0x22000, one 2 MiB user page at 0), installs a #GP handler
; (64-bit interrupt gate, vector 13, RSP0 from the TSS), then IRETQs to ring
; 3 with IOPL 3 in RFLAGS.  Ring 3 runs CLI, prints through COM1 and ends
; through isa-debug-exit with 0 (status 1) -- all of it allowed at IOPL 3.
; Were IOPL not honoured, the #GP handler prints "#GP in ring 3" and ends
; with 0x0d (status 27).

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
    mov dword ptr [0x22000], 0x00000087    ; PDE 0: 2 MiB page at 0, P|RW|US|PS
    mov eax, 0x20000
    mov cr3, eax
    mov eax, cr4
    or eax, 0x20                           ; CR4.PAE
    mov cr4, eax
    mov ecx, 0xc0000080                    ; IA32_EFER
    rdmsr
    or eax, 0x100                          ; LME
    wrmsr
    mov eax, cr0
    or eax, 0x80000000                     ; CR0.PG: IA-32e mode
    mov cr0, eax
    jmp far 0x18:lm64

.code64
lm64:
    mov ax, 0x20
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov rsp, 0x90000
    mov rdi, 0x30000                       ; the TSS: RSP0 = 0x88000
    mov rcx, 0xd
    xor eax, eax
    rep stosq
    mov qword ptr [0x30004], 0x88000
    mov ax, 0x28
    ltr ax
    lidt [idt_desc]
    mov rsi, msg_kernel
    call puts64
    push 0x3b                              ; SS: data, ring 3
    push 0x80000                           ; RSP
    push 0x3002                            ; RFLAGS: IOPL 3, IF 0
    push 0x43                              ; CS: 64-bit code, ring 3
    mov rax, user
    push rax                               ; RIP
    iretq

; -- ring 3, IOPL 3 ------------------------------------------------------------------
user:
    cli
    mov rsi, msg_user
    call puts64
    mov al, 0
    out 0xf4, al                           ; isa-debug-exit: status 1
user_hang:
    jmp user_hang

; -- ring 0: #GP ------------------------------------------------------------------------
gp:
    mov rsi, msg_gp
    call puts64
    mov al, 0x0d
    out 0xf4, al
    hlt

puts64:
    push rax
    push rdx
    mov dx, 0x3f8
puts64_next:
    lodsb
    test al, al
    jz puts64_done
    out dx, al
    jmp puts64_next
puts64_done:
    pop rdx
    pop rax
    ret

gdt:
    dd 0, 0
    dd 0x0000ffff, 0x00cf9b00      ; 0x08 code32, ring 0
    dd 0x0000ffff, 0x00cf9300      ; 0x10 data, ring 0
    dd 0x0000ffff, 0x00af9b00      ; 0x18 code64 (L=1), ring 0
    dd 0x0000ffff, 0x00cf9300      ; 0x20 data, ring 0
    dd 0x00000067, 0x00008903      ; 0x28 64-bit TSS at 0x30000, limit 0x67
    dd 0, 0                        ;      (upper half: base bits 63:32)
    dd 0x0000ffff, 0x00cff300      ; 0x38 data, ring 3
    dd 0x0000ffff, 0x00affb00      ; 0x40 code64 (L=1), ring 3
gdt_desc:
    dw 9 * 8 - 1
    dq gdt

idt:
    .fill 13 * 0x10, 1, 0
    dw gp, 0x18, 0x8e00, 0         ; 13: 64-bit interrupt gate, DPL 0
    dd 0, 0
idt_desc:
    dw 14 * 0x10 - 1
    dq idt

msg_kernel: .asciz "ring 0: iretq to ring 3 with IOPL 3\n"
msg_user:   .asciz "ring 3: CLI and OUT at IOPL 3\n"
msg_gp:     .asciz "#GP in ring 3\n"
