; high_mmio.S -- long mode, then loads from unassigned physical memory above
; 4 GiB, one per MiB, over 1 GiB: a guest that sweeps the MMIO space.
;
; Page tables (SDM Vol. 3A §4.5): PML4 0x20000 -> PDPT 0x21000; PDPTE 0 ->
; PD 0x22000, whose entry 0 identity-maps the first 2 MiB; PDPTE 4 -> PD
; 0x23000, whose 512 entries map linear 4 GiB + n * 2 MiB to the same
; physical address (2 MiB pages, PS).  ROUNDS sweeps of 1024 loads, then the
; sum of what they read (unassigned memory reads as all ones) goes out to
; isa-debug-exit's neighbour, the debug console, and the guest exits.

ROUNDS = 4

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
    mov ecx, 4 * 0x400
    xor eax, eax
    cld
    rep stosd
    mov dword ptr [0x20000], 0x21003       ; PML4E 0 -> PDPT, P|RW
    mov dword ptr [0x21000], 0x22003       ; PDPTE 0 -> PD 0, P|RW
    mov dword ptr [0x21020], 0x23003       ; PDPTE 4 -> PD 1, P|RW
    mov dword ptr [0x22000], 0x00000083    ; PD 0 entry 0: 2 MiB page at 0, P|RW|PS
    mov edi, 0x23000
    mov eax, 0x83
fill:
    mov dword ptr [edi], eax               ; 2 MiB page at 4 GiB + n * 2 MiB
    mov dword ptr [edi + 4], 1
    add eax, 0x200000
    add edi, 8
    cmp edi, 0x24000
    jb fill
    mov eax, 0x20000
    mov cr3, eax
    mov eax, cr4
    or eax, 0x20                           ; CR4.PAE
    mov cr4, eax
    mov ecx, 0xc0000080                    ; IA32_EFER.LME
    rdmsr
    or eax, 0x100
    wrmsr
    mov eax, cr0
    or eax, 0x80000000                     ; CR0.PG
    mov cr0, eax
    jmp far 0x18:lm64

.code64
lm64:
    mov ax, 0x20
    mov ds, ax
    mov ss, ax
    xor ebx, ebx
    mov ecx, ROUNDS
round:
    mov rsi, 0x100000000
sweep:
    mov eax, dword ptr [rsi]
    add ebx, eax
    add rsi, 0x100000
    mov rdx, 0x140000000
    cmp rsi, rdx
    jb sweep
    dec ecx
    jnz round
    mov al, bl
    out 0xe9, al
    mov al, 0
    out 0xf4, al
    hlt

gdt:
    dd 0, 0
    dd 0x0000ffff, 0x00cf9b00      ; 0x08 code32
    dd 0x0000ffff, 0x00cf9300      ; 0x10 data
    dd 0x0000ffff, 0x00af9b00      ; 0x18 code64
    dd 0x0000ffff, 0x00cf9300      ; 0x20 data
gdt_desc:
    dw 5 * 8 - 1
    dd gdt
