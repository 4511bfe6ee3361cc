; paging.S -- 32-bit paging with pages mapped on demand by the #PF handler.
;
; Real mode -> 32-bit protected mode, then (SDM Vol. 3A §4.3):
;   page directory at 0x20000: PDE 0 -> page table at 0x21000 (identity map
;   of 0-4 MiB, 4 KiB pages, supervisor); PDE 1 -> page table at 0x22000,
;   all entries not present (the demand-paged region 0x400000-0x7FFFFF);
;   PDE 2 maps a 4 MiB page (CR4.PSE) at 0x800000 onto physical 0.
; CR3 = 0x20000, CR4.PSE, CR0.PG|WP.  Then:
;   * writes to 0x400000, 0x401000, 0x5ff000: each first touch is a #PF
;     (not present, write: error code 2) whose handler prints CR2 and the
;     error code, maps a fresh frame from a pool at 0x100000 and returns to
;     re-run the write;
;   * reading back through the 4 MiB alias at 0x800000 + frame;
;   * the accessed/dirty bits of the PTE of a page read (A) and written (A|D);
;   * a write to a page the kernel made read-only: with CR0.WP this is a #PF
;     with error code 3 (present, write); the handler makes it writable and
;     invalidates the TLB entry with INVLPG.
; Finally exits through isa-debug-exit.

    cli
    xor ax, ax
    mov ds, ax
    mov ss, ax
    mov sp, 0x7c00
    lgdt [gdt_desc]
    lidt [idt_desc]
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
    call puts

    ; page directory (0x20000) and the two page tables, zeroed
    mov edi, 0x20000
    mov ecx, 3 * 0x400
    xor eax, eax
    cld
    rep stosd
    mov dword ptr [0x20000], 0x21003       ; PDE 0: table 0x21000, P|RW
    mov dword ptr [0x20004], 0x22003       ; PDE 1: table 0x22000, P|RW
    mov dword ptr [0x20008], 0x00000083    ; PDE 2: 4 MiB page at 0, P|RW|PS
    ; identity-map 0-4 MiB with 4 KiB pages
    mov edi, 0x21000
    mov eax, 0x003                         ; P|RW
fill:
    stosd
    add eax, 0x1000
    cmp edi, 0x22000
    jb fill

    mov eax, 0x20000
    mov cr3, eax
    mov eax, cr4
    or eax, 0x10                           ; CR4.PSE
    mov cr4, eax
    mov eax, cr0
    or eax, 0x80010000                     ; CR0.PG | CR0.WP
    mov cr0, eax
    mov esi, msg_pg
    call puts

    ; -- demand paging ---------------------------------------------------------
    mov dword ptr [0x400000], 0x11111111
    mov dword ptr [0x401000], 0x22222222
    mov dword ptr [0x5ff004], 0x33333333
    mov dword ptr [0x400008], 0x44444444   ; same page: no fault
    mov esi, msg_read
    call puts
    mov eax, [0x400000]
    mov ecx, 8
    call puthex
    mov esi, msg_sp
    call puts
    mov eax, [0x401000]
    call puthex
    mov esi, msg_sp
    call puts
    mov eax, [0x5ff004]
    call puthex
    mov esi, msg_sp
    call puts
    mov eax, [0x400008]
    call puthex
    mov esi, msg_nl
    call puts

    ; the same frames through the 4 MiB page at 0x800000 (physical 0)
    mov esi, msg_alias
    call puts
    mov ebx, [0x22000]                     ; PTE for 0x400000
    and ebx, 0xfffff000
    mov eax, ebx
    mov ecx, 8
    call puthex
    mov esi, msg_eq
    call puts
    mov eax, [ebx + 0x800000]
    call puthex
    mov esi, msg_nl
    call puts

    ; -- accessed and dirty bits ------------------------------------------------
    mov dword ptr [0x21000 + 0x60 * 4], 0x60003   ; page 0x60000: fresh, A=D=0
    invlpg [0x60000]
    mov eax, [0x60000]                     ; read: A
    mov esi, msg_ad1
    call puts
    mov eax, [0x21000 + 0x60 * 4]
    mov ecx, 3
    call puthex
    mov dword ptr [0x60000], 1             ; write: D
    mov esi, msg_ad2
    call puts
    mov eax, [0x21000 + 0x60 * 4]
    call puthex
    mov esi, msg_nl
    call puts

    ; -- CR0.WP: a supervisor write to a read-only page ------------------------
    mov dword ptr [0x21000 + 0x61 * 4], 0x61001   ; page 0x61000: P, read-only
    invlpg [0x61000]
    mov dword ptr [0x61000], 0x55555555
    mov esi, msg_wp
    call puts
    mov eax, [0x61000]
    mov ecx, 8
    call puthex
    mov esi, msg_nl
    call puts

    mov esi, msg_done
    call puts
    mov al, 0
    out 0xf4, al
    hlt

; -- the page-fault handler ---------------------------------------------------
pf_handler:
    pushad
    mov esi, msg_pf
    call puts
    mov eax, cr2
    mov ecx, 8
    call puthex
    mov esi, msg_err
    call puts
    mov eax, [esp+0x20]                      ; the error code
    mov ecx, 1
    call puthex
    mov eax, [esp+0x20]
    test eax, 1
    jnz pf_protection
    ; not present: map the page onto the next free frame
    mov ebx, cr2
    shr ebx, 0xc
    and ebx, 0x3ff
    mov eax, [next_frame]
    mov edx, eax
    or edx, 3                              ; P|RW
    mov [0x22000 + ebx * 4], edx
    add eax, 0x1000
    mov [next_frame], eax
    mov esi, msg_map
    call puts
    mov eax, edx
    and eax, 0xfffff000
    mov ecx, 8
    call puthex
    jmp pf_out
pf_protection:
    ; present: a write to the read-only page -- make it writable
    mov ebx, cr2
    shr ebx, 0xc
    or dword ptr [0x21000 + ebx * 4], 2
    mov eax, cr2
    invlpg [eax]
    mov esi, msg_rw
    call puts
pf_out:
    mov esi, msg_nl
    call puts
    popad
    add esp, 4                             ; drop the error code
    iretd

.include "serial32.inc"                ; puts, puthex (emu/guests/lib)

next_frame: dd 0x100000

gdt:
    dd 0, 0
    dd 0x0000ffff, 0x00cf9b00      ; 0x08 code32, ring 0
    dd 0x0000ffff, 0x00cf9300      ; 0x10 data32, ring 0
gdt_desc:
    dw 3 * 8 - 1                   ; (constants, not label differences:
    dd gdt                         ;  keystone mis-assembles those at times)

idt:
    .fill 8 * 0xe, 1, 0
    dw pf_handler, 0x08, 0x8e00, 0     ; 14: #PF, interrupt gate
idt_desc:
    dw 0xf * 8 - 1
    dd idt

msg_pm:    .asciz "protected mode; building page tables\n"
msg_pg:    .asciz "paging on: CR3=00020000, 4 KiB pages below 4 MiB, a 4 MiB page at 00800000\n"
msg_pf:    .asciz "#PF cr2="
msg_err:   .asciz " error="
msg_map:   .asciz " -> mapped frame "
msg_rw:    .asciz " -> made writable"
msg_read:  .asciz "read back: "
msg_sp:    .asciz " "
msg_alias: .asciz "frame "
msg_eq:    .asciz " through the 4 MiB page: "
msg_ad1:   .asciz "PTE flags after a read: "
msg_ad2:   .asciz ", after a write: "
msg_wp:    .asciz "read-only page after the fault: "
msg_done:  .asciz "done\n"
msg_nl:    .asciz "\n"
