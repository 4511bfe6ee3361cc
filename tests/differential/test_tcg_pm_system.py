"""Protected-mode PUSHF/POPF in translated code: POPFD changes IF only at
CPL <= IOPL and IOPL only at CPL 0, silently otherwise (SDM Vol. 2B
"POPF/POPFD"), the mask taken at run time; the block ends after it where
the dispatcher looks at interrupts, so timer interrupts are acknowledged
at the same instruction count as on the interpreter, in ring 0 and in
ring 3 (through the TSS's ESP0, SDM Vol. 3A §7.2.1)."""

from emu.machine import Machine
from tests.unit.ir.x86_guests import descriptor_tables

from . import pm32
from .pm32 import ENTRY as PM32_ENTRY
from .test_tcg import EXIT, asm, same
from .test_tcg_system import _acks, timer_setup

#: to flat 32-bit ring 0 (tests/differential/pm32.py) with the guest's IDT
ENTRY = PM32_ENTRY.replace("    lgdt [gdt_desc]\n", "    lgdt [gdt_desc]\n    lidt [idt_desc]\n")
#: EAX's four bytes to the port DX (COM1)
PUT4 = """
put4:
    out dx, al
    shr eax, 8
    out dx, al
    shr eax, 8
    out dx, al
    shr eax, 8
    out dx, al
    ret
"""

#: ring 0: PUSHFD/CLI ... POPFD sections and POPFD setting IF and IOPL
#: with PIT interrupts due (IRQ 0 at vector 0x20); then ring 3 at IOPL 0
#: (POPFD's IF and IOPL ignored, the arithmetic flags taken) and, after
#: INT 0x81 raised IOPL to 3 in its return frame, ring 3 at IOPL 3 (IF
#: taken); INT 0x80 prints the ticks, EBX and ECX and stops
PM_TIMED = ENTRY + """
    mov ax, 0x28
    ltr ax
""" + timer_setup(0x20) + """
    xor ebx, ebx
    xor ecx, ecx
    mov edi, 300
work0:
    sti
    add ecx, 3
    cli
    add ebx, ecx
    pushfd
    sti
    xor edx, ecx
    pushfd
    cli
    inc ebx
    popfd
    add ecx, ebx
    popfd
    cli
    pushfd
    pop eax
    or eax, 0x3200
    push eax
    popfd
    add edx, 5
    pushfd
    pop eax
    add ebx, eax
    and eax, 0xffffcdff
    push eax
    popfd
    add ecx, 7
    dec edi
    jnz work0
    push 0x23
    push 0x80000
    push 0x202
    push 0x1b
    mov eax, ring3
    push eax
    iretd
ring3:
    mov ax, 0x23
    mov ds, ax
    mov es, ax
    mov edi, 300
work3:
    pushfd
    pop eax
    add ecx, eax
    and eax, 0xfffffdff
    or eax, 0x3000
    xor eax, 0x8d5
    push eax
    popfd
    pushfd
    pop eax
    add ebx, eax
    dec edi
    jnz work3
    int 0x81
    mov edi, 300
work3b:
    pushfd
    cli
    add ebx, 3
    pushfd
    pop eax
    add ecx, eax
    popfd
    xor ebx, ecx
    dec edi
    jnz work3b
    int 0x80

irq0:
    push eax
    inc dword ptr [ticks]
    mov al, 0x20
    out 0x20, al
    pop eax
    iretd
raise_iopl:
    or dword ptr [esp + 8], 0x3000
    iretd
finish:
    cli
    mov dx, 0x3f8
    mov eax, [ticks]
    call put4
    mov eax, ebx
    call put4
    mov eax, ecx
    call put4
    mov al, 0
    out 0xf4, al
    hlt
gp:
    mov dx, 0x3f8
    mov al, 0x47
    out dx, al
    mov al, 0
    out 0xf4, al
    hlt
""" + PUT4 + """

ticks: .long 0
""" + descriptor_tables(
    (".long 0x0000ffff, 0x00cf9b00", ".long 0x0000ffff, 0x00cf9300", ".long 0x0000ffff, 0x00cffb00",
     ".long 0x0000ffff, 0x00cff300", ".word 0x67, tss, 0x8900, 0"),
    {13: ("gp", 0x8E00), 0x20: ("irq0", 0x8E00), 0x80: ("finish", 0xEE00),
     0x81: ("raise_iopl", 0xEE00)}) + """
tss:
    .long 0, 0x90000, 0x10
    .fill 0x66 - 0xc, 1, 0
    .word 0x68
"""


def test_popfd_in_protected_mode_stays_in_translated_code():
    """The interpreter's state on every tier, and unicorn's output (the
    ticks, EBX and ECX, which sum the flags POPFD left); on the eager tier
    no helper runs the loops' POPFDs (3 + 2 + 1 per pass, 1800 in all)."""
    img = asm(PM_TIMED)
    m, r = same(img, tier="eager")
    assert r.reason == "debug-exit"
    assert len(m.serial_output()) == 12
    st = m.accel.stats()
    assert st["helper_calls"] < 100, st
    u = Machine(accel="unicorn")
    u.load_image(img)
    assert u.run(icount_limit=2_000_000).reason == "debug-exit"
    assert u.serial_output() == m.serial_output()
    u.close()


def test_timer_interrupts_at_the_same_instruction_around_popfd_in_rings_0_and_3():
    img = asm(PM_TIMED)
    ref = _acks("interp", img)
    assert ref[0] == "debug-exit"
    assert len(ref[4]) > 20
    for thr in (1, None, 2):
        got = _acks("tcg", img, thr)
        assert got[:3] == ref[:3], thr
        assert got[3] == ref[3], thr
        assert got[4] == ref[4], thr


#: segment loads in a loop, ring 0: FS flat then a 32-byte segment at
#: 0x9000 (an access at offset 0x20 is beyond its limit: #GP), POP ES,
#: a null GS (an access through it: #GP(0)), and loads that fault -- a
#: not-present segment (#NP(0x20)), an execute-only code segment into DS
#: (#GP(0x28)), a selector beyond the GDT's limit (#GP(0x38)) -- each
#: resumed after by the handler, which sums the error codes; ES from a
#: descriptor whose accessed bit is clear until the first load sets it
PM_SEGS = ENTRY + """
    mov dword ptr [0x9020], 5
    xor ebx, ebx
    xor esi, esi
    mov ecx, 50
again:
    mov ax, 0x10
    mov fs, ax
    add esi, fs:[0x9020]
    mov ax, 0x18
    mov fs, ax
    mov ebx, fs:[0x1c]
    add ebx, ecx
    mov fs:[0x1c], ebx
    mov dword ptr [resume], r1
    mov eax, fs:[0x20]
r1:
    push ds
    pop es
    add esi, es:[0x901c]
    xor ax, ax
    mov gs, ax
    mov dword ptr [resume], r2
    add esi, gs:[0]
r2:
    mov dword ptr [resume], r3
    mov ax, 0x20
    mov es, ax
r3:
    mov dword ptr [resume], r4
    mov ax, 0x28
    mov ds, ax
r4:
    mov dword ptr [resume], r5
    mov ax, 0x38
    mov gs, ax
r5:
    mov ax, 0x30
    mov es, ax
    add esi, es:[0x9020]
    rol esi, 1
    dec ecx
    jnz again
    mov dx, 0x3f8
    mov eax, [faults]
    call put4
    mov eax, [errsum]
    call put4
    mov eax, esi
    call put4
    mov eax, ebx
    call put4
    mov al, 0
    out 0xf4, al
    hlt
fault:
    pop eax
    add [errsum], eax
    inc dword ptr [faults]
    mov eax, [resume]
    mov [esp], eax
    iretd
""" + PUT4 + """

resume: .long 0
faults: .long 0
errsum: .long 0
""" + descriptor_tables(
    (".long 0x0000ffff, 0x00cf9b00", ".long 0x0000ffff, 0x00cf9300", ".long 0x9000001f, 0x00409300",
     ".long 0x0000ffff, 0x00cf1300", ".long 0x0000ffff, 0x00cf9900", ".long 0x0000ffff, 0x00cf9200"),
    {11: ("fault", 0x8E00), 13: ("fault", 0x8E00)})


def test_protected_mode_segment_loads_stay_in_translated_code_and_fault_exactly():
    """The interpreter's state on every tier, and unicorn's error codes and
    the sum read through the 32-byte FS (unicorn, like QEMU's TCG, checks
    no segment limit: the two accesses beyond one do not fault there); on
    the eager tier the loop's segment loads that do not fault (7 per
    pass, 350 in all) run in translated code."""
    img = asm(PM_SEGS)
    m, r = same(img, tier="eager")
    assert r.reason == "debug-exit"
    out = m.serial_output()
    faults = int.from_bytes(out[:4], "little")
    assert faults == 50 * 5
    assert int.from_bytes(out[4:8], "little") == 50 * (0x20 + 0x28 + 0x38)
    st = m.accel.stats()
    # each fault: the faulting load and the handler's IRETD on the interpreter
    assert st["interp_insns"] < 2 * faults + 20, st
    u = Machine(accel="unicorn")
    u.load_image(img)
    assert u.run(icount_limit=2_000_000).reason == "debug-exit"
    uout = u.serial_output()
    assert (uout[4:8], uout[12:16]) == (out[4:8], out[12:16])
    u.close()


def test_popfd_that_sets_no_if_chains_on():
    """PUSHFD/CLI ... POPFD with IF clear all through: the POPFD sets
    neither IF nor TF, so no interrupt can have become deliverable and its
    block goes on to the next directly (the exit taken when one rose is the
    dispatcher's full look-up); the interpreter's state on every tier."""
    img = asm(pm32.guest("""
    xor ebx, ebx
    mov ecx, 300
again:
    pushfd
    cli
    add ebx, ecx
    popfd
    dec ecx
    jnz again
    mov dx, 0x3f8
    mov eax, ebx
    call put4
""" + EXIT + PUT4))
    m, r = same(img, tier="eager")
    assert m.serial_output() == (300 * 301 // 2).to_bytes(4, "little")
