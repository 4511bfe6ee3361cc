; long_boot.S -- real mode -> protected mode -> long mode -> ring 3, back
; into ring 0 by SYSCALL and through a 64-bit IDT gate.
;
; SDM Vol. 3A §10.8.5 (initializing IA-32e mode): with paging off, CR4.PAE,
; CR3 -> PML4, EFER.LME, then CR0.PG activates IA-32e mode (EFER.LMA), and a
; far jump to a code segment with L=1 enters 64-bit mode.  The page tables
; (§4.5): PML4 0x20000 -> PDPT 0x21000 -> PD 0x22000, whose entry 0 maps
; the first 2 MiB as one page (PS), user-accessible.
;
; GDT: 0x08 code32, 0x10 data, 0x18 code64 ring 0, 0x20 data ring 0,
; 0x28 code32 ring 3, 0x30 data ring 3, 0x38 code64 ring 3, 0x40 64-bit TSS.
; STAR = 0x0028_0018_0000_0000: SYSCALL -> CS 0x18 / SS 0x20; SYSRETQ ->
; CS 0x38|3 = 0x3b, SS 0x30|3 = 0x33 (§5.8.8).  LSTAR = syscall_entry,
; SFMASK = IF.  The SYSCALL handler switches to its own stack through
; SWAPGS: KERNEL_GS_BASE points at a per-CPU block whose qword 0 is the
; kernel RSP and qword 8 saves the user RSP.
;
; Ring 3 (64-bit, CPL 3): prints through SYSCALL (rax=1, rsi=string), then
; INT 0x80 through a DPL-3 64-bit interrupt gate (the CPU switches to RSP0
; from the TSS and pushes SS, RSP, RFLAGS, CS, RIP), then SYSCALL rax=0x3c
; asks ring 0 to exit through isa-debug-exit.

    cli
    xor ax, ax
    mov ds, ax
    mov ss, ax
    mov sp, 0x7c00
    mov si, msg_real
    mov dx, 0x3f8
rm_puts:
    lodsb
    test al, al
    jz rm_done
    out dx, al
    jmp rm_puts
rm_done:
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
    mov esi, msg_pm
    call puts32

    ; page tables at 0x20000-0x22fff, zeroed
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
    or eax, 0x101                          ; LME | SCE
    wrmsr
    mov eax, cr0
    or eax, 0x80000000                     ; CR0.PG: IA-32e mode becomes active
    mov cr0, eax
    jmp far 0x18:lm64                      ; into 64-bit mode; in 32-bit code the
                                           ; pointer is 6 bytes: EA, a 32-bit offset,
                                           ; the selector

.code64
lm64:
    mov ax, 0x20
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov rsp, 0x90000
    mov rsi, msg_lm
    call puts64

    ; the TSS at 0x30000: RSP0 = 0x88000; the per-CPU block at 0x31000
    mov rdi, 0x30000
    mov rcx, 0xd                           ; 0x68 bytes
    xor eax, eax
    rep stosq
    mov qword ptr [0x30004], 0x88000
    mov qword ptr [0x31000], 0x84000       ; kernel stack for SYSCALL
    mov ax, 0x40
    ltr ax
    lidt [idt_desc]

    mov ecx, 0xc0000081                    ; STAR
    xor eax, eax
    mov edx, 0x00280018
    wrmsr
    mov ecx, 0xc0000082                    ; LSTAR
    mov eax, syscall_entry
    xor edx, edx
    wrmsr
    mov ecx, 0xc0000084                    ; SFMASK: clear IF on entry
    mov eax, 0x200
    wrmsr
    mov ecx, 0xc0000102                    ; KERNEL_GS_BASE -> per-CPU block
    mov eax, 0x31000
    wrmsr

    mov rsi, msg_drop
    call puts64
    push 0x33                              ; SS
    push 0x80000                           ; RSP
    push 0x2                               ; RFLAGS
    push 0x3b                              ; CS: 64-bit code, ring 3
    mov rax, user
    push rax                               ; RIP
    iretq

; -- ring 3 -------------------------------------------------------------------------
user:
    mov eax, 1
    mov rsi, msg_user
    syscall
after_syscall:
    mov eax, 1
    mov rsi, msg_int
    syscall
    int 0x80
after_int:
    mov eax, 1
    mov rsi, msg_back
    syscall
    mov eax, 0x3c
    syscall
user_hang:
    jmp user_hang

; -- ring 0: SYSCALL entry (RCX = user RIP, R11 = user RFLAGS) ----------------------
syscall_entry:
    swapgs
    db 0x65, 0x48, 0x89, 0x24, 0x25, 8, 0, 0, 0    ; mov gs:[8], rsp (absolute, not RIP-relative)
    db 0x65, 0x48, 0x8b, 0x24, 0x25, 0, 0, 0, 0    ; mov rsp, gs:[0]
    cmp eax, 0x3c
    je sys_exit
    call puts64
    cmp rsi, msg_user
    jne sys_ret
    push rcx                               ; the first call reports RCX and CS
    mov rsi, msg_rcx
    call puts64
    mov eax, ecx
    mov ecx, 8
    call puthex64
    mov rsi, msg_cs
    call puts64
    mov ax, cs
    mov ecx, 4
    call puthex64
    mov rsi, msg_nl
    call puts64
    pop rcx
sys_ret:
    db 0x65, 0x48, 0x8b, 0x24, 0x25, 8, 0, 0, 0    ; mov rsp, gs:[8]
    swapgs
    db 0x48, 0x0f, 0x07                    ; sysretq (keystone lacks the mnemonic)
sys_exit:
    mov rsi, msg_exit
    call puts64
    mov al, 0
    out 0xf4, al
    hlt

; -- ring 0: INT 0x80 through a 64-bit interrupt gate ------------------------------
int80:
    mov rsi, msg_in80
    call puts64
    mov rax, [rsp + 8]                     ; CS from the frame
    mov ecx, 4
    call puthex64
    mov rsi, msg_ss
    call puts64
    mov rax, [rsp + 0x20]                  ; SS from the frame
    call puthex64
    mov rsi, msg_rsp
    call puts64
    mov rax, rsp                           ; RSP0 minus the 5-qword frame
    mov ecx, 8
    call puthex64
    mov rsi, msg_nl
    call puts64
    iretq

; -- helpers ------------------------------------------------------------------------
.code32
puts32:
    push eax
    push edx
    mov dx, 0x3f8
puts32_next:
    lodsb
    test al, al
    jz puts32_done
    out dx, al
    jmp puts32_next
puts32_done:
    pop edx
    pop eax
    ret

.code64
puts64:
    push rax
    push rdx
    push rsi
    mov dx, 0x3f8
puts64_next:
    lodsb
    test al, al
    jz puts64_done
    out dx, al
    jmp puts64_next
puts64_done:
    pop rsi
    pop rdx
    pop rax
    ret

; puthex64: print the low ECX hex digits of EAX
puthex64:
    push rax
    push rbx
    push rcx
    push rdx
    mov ebx, eax
    mov edx, ecx
    mov ecx, 8
    sub ecx, edx
    shl ecx, 2
    shl ebx, cl
    mov ecx, edx
    mov dx, 0x3f8
hex64_next:
    rol ebx, 4
    mov al, bl
    and al, 0x0f
    cmp al, 0xa
    jb hex64_digit
    add al, 0x27
hex64_digit:
    add al, 0x30
    out dx, al
    dec ecx
    jnz hex64_next
    pop rdx
    pop rcx
    pop rbx
    pop rax
    ret

gdt:
    dd 0, 0
    dd 0x0000ffff, 0x00cf9b00      ; 0x08 code32, ring 0
    dd 0x0000ffff, 0x00cf9300      ; 0x10 data, ring 0
    dd 0x0000ffff, 0x00af9b00      ; 0x18 code64 (L=1), ring 0
    dd 0x0000ffff, 0x00cf9300      ; 0x20 data, ring 0 (SYSCALL SS)
    dd 0x0000ffff, 0x00cffb00      ; 0x28 code32, ring 3 (SYSRET to compatibility mode)
    dd 0x0000ffff, 0x00cff300      ; 0x30 data, ring 3
    dd 0x0000ffff, 0x00affb00      ; 0x38 code64 (L=1), ring 3
    dd 0x00000067, 0x00008903      ; 0x40 64-bit TSS at 0x30000, limit 0x67
    dd 0, 0                        ;      (upper half: base bits 63:32)
gdt_desc:
    dw 0xa * 8 - 1
    dq gdt

idt:
    .fill 0x80 * 0x10, 1, 0
    dw int80, 0x18, 0xee00, 0      ; 0x80: 64-bit interrupt gate, DPL 3
    dd 0, 0
idt_desc:
    dw 0x81 * 0x10 - 1
    dq idt

msg_real:  .asciz "real mode: hello from 0000:7c00\n"
msg_pm:    .asciz "protected mode: building 4-level page tables\n"
msg_lm:    .asciz "long mode: 64-bit code segment 0018, 2 MiB identity page\n"
msg_drop:  .asciz "ring 0: iretq to ring 3\n"
msg_user:  .asciz "ring 3: hello through syscall\n"
msg_rcx:   .asciz "  ring 0 handler: rcx="
msg_cs:    .asciz " cs="
msg_int:   .asciz "ring 3: int 0x80\n"
msg_in80:  .asciz "  int 0x80 gate: frame cs="
msg_ss:    .asciz " ss="
msg_rsp:   .asciz " rsp="
msg_back:  .asciz "ring 3: back from iretq\n"
msg_exit:  .asciz "ring 0: exit requested from ring 3\n"
msg_nl:    .asciz "\n"
