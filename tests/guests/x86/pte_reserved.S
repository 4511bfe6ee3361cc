; Reserved bits in long-mode paging-structure entries (SDM Vol. 3A §4.5.4,
; Tables 4-14 to 4-20; §4.7: a reserved bit set in a present entry is a #PF
; with P = 1 and RSVD = 1 in the error code).  MAXPHYADDR is 48 on kasou's
; -cpu max and on KVM on this host (CPUID 0x80000008); bits 51:48 are
; reserved at every level, as are XD while EFER.NXE = 0 and bits 20:13 of a
; 2 MiB page.  Identity map: PML4 0x20000, PDPT 0x21000, PD 0x22000
; (entry 0: 2 MiB page at 0), PT 0x23000 for 2-4 MiB.  Each test reads one
; linear address; the #PF handler prints "PF code cr2" and resumes after the
; 2-byte read.  Last, MOV CR3 with bit 50 set: #GP(0), printed, then exit.
    cli
    xor ax, ax
    mov ds, ax
    mov ss, ax
    mov sp, 0x7c00
    mov ax, 0x2000
    mov es, ax
    xor di, di
    xor eax, eax
    mov cx, 0x5000 / 4
    cld
    rep stosd
    mov dword ptr es:[0x0000], 0x21003     ; PML4[0] -> PDPT
    mov dword ptr es:[0x0008], 0x21003     ; PML4[1] -> PDPT, bit 49 set
    mov dword ptr es:[0x000c], 0x00020000
    mov dword ptr es:[0x1000], 0x22003     ; PDPT[0] -> PD
    mov dword ptr es:[0x1008], 0x22003     ; PDPT[1] -> PD, bit 50 set
    mov dword ptr es:[0x100c], 0x00040000
    mov dword ptr es:[0x2000], 0x000083    ; PD[0]: 2 MiB page at 0
    mov dword ptr es:[0x2008], 0x23003     ; PD[1] -> PT
    mov dword ptr es:[0x2010], 0x400083    ; PD[2]: 2 MiB page, bit 48 set
    mov dword ptr es:[0x2014], 0x00010000
    mov dword ptr es:[0x2018], 0x602083    ; PD[3]: 2 MiB page, bit 13 set
    mov dword ptr es:[0x3000], 0x200003    ; PT[0]: bit 51 set
    mov dword ptr es:[0x3004], 0x00080000
    mov dword ptr es:[0x3008], 0x201003    ; PT[1]: XD set, NXE off
    mov dword ptr es:[0x300c], 0x80000000
    mov dword ptr es:[0x3010], 0x202003    ; PT[2]: a good page
    lgdt [gdt_desc]
    lidt [idt_desc]
    mov eax, cr4
    or eax, 0x20               ; PAE
    mov cr4, eax
    mov eax, 0x20000
    mov cr3, eax
    mov ecx, 0xc0000080        ; EFER.LME
    rdmsr
    or eax, 0x100
    wrmsr
    mov eax, cr0
    or eax, 0x80000001
    mov cr0, eax
    jmp far 0x08:lm64
.code64
lm64:
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov rsp, 0x90000
    lea rsi, [rip + targets]
next:
    mov rbx, [rsi]
    test rbx, rbx
    jz cr3_test
    add rsi, 8
    mov eax, [rbx]             ; 8B 03: the read under test
    jmp next
cr3_test:
    mov rax, cr3
    bts rax, 50
    mov cr3, rax
    mov al, 0x7f
    out 0xf4, al

pf_handler:
    mov al, 0x50               ; 'P'
    call putc
    mov al, 0x46               ; 'F'
    call putc
    mov rax, [rsp]             ; error code
    mov ecx, 2
    call puthex
    mov rax, cr2
    mov ecx, 16
    call puthex
    mov al, 10
    call putc
    add qword ptr [rsp + 8], 2 ; resume after the 2-byte read
    add rsp, 8
    iretq

gp_handler:
    mov al, 0x47               ; 'G'
    call putc
    mov al, 0x50               ; 'P'
    call putc
    mov rax, [rsp]
    mov ecx, 4
    call puthex
    mov al, 10
    call putc
    mov al, 0x0d
    out 0xf4, al
    hlt

; print " " and the low ECX hex digits of RAX
puthex:
    push rax
    mov al, 0x20
    call putc
    pop rax
hex_next:
    mov rdx, rax
    lea ebx, [ecx*4 - 4]
    push rcx
    mov ecx, ebx
    shr rdx, cl
    pop rcx
    and dl, 15
    add dl, 0x30
    cmp dl, 0x3a
    jb hex_put
    add dl, 0x27
hex_put:
    push rax
    mov al, dl
    call putc
    pop rax
    dec ecx
    jnz hex_next
    ret

putc:
    push rdx
    mov dx, 0x3f8
    out dx, al
    pop rdx
    ret

targets:
    dq 0x200000                ; PTE bit 51
    dq 0x201000                ; PTE XD with NXE off
    dq 0x400000                ; 2 MiB PDE bit 48
    dq 0x600000                ; 2 MiB PDE bit 13
    dq 0x40000000              ; PDPTE bit 50
    dq 0x8000000000            ; PML4E bit 49
    dq 0x202000                ; a good page: no fault
    dq 0

gdt:
    dd 0, 0
    dd 0x0000ffff, 0x00af9b00      ; 0x08 code64, ring 0
    dd 0x0000ffff, 0x00cf9300      ; 0x10 data, ring 0
gdt_desc:
    dw 3 * 8 - 1
    dd gdt

idt:
    .fill 16 * 13, 1, 0
    dw gp_handler, 0x08, 0x8e00, 0, 0, 0, 0, 0     ; 13: #GP
    dw pf_handler, 0x08, 0x8e00, 0, 0, 0, 0, 0     ; 14: #PF
idt_desc:
    dw 15 * 16 - 1
    dd idt
