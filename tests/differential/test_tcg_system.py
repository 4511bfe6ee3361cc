"""Real-mode system instructions compiled into translated code (far CALL,
far JMP, RETF, INT n, IRET, CLI, STI, POPF): the translator runs them in
the block -- a far transfer ends it with the full look-up by (CS base, IP),
an instruction that may set IF or TF ends it where the dispatcher looks at
interrupts -- and everything observable stays the interpreter's, timer
interrupts included: each is acknowledged at the same instruction count
(STI's one-instruction shadow, POPF setting IF, IRET's FLAGS; SDM Vol. 2B
"STI", "POPF"; Vol. 3A §20.1.4)."""

import io
import re

from emu.machine import Machine
from tests.unit.ir.x86_guests import real_entry

from .test_tcg import EXIT, _placed, asm, same

#: the end of a guest: BX's two bytes on COM1, then stop
PRINT_BX = """
    mov dx, 0x3f8
    mov al, bl
    out dx, al
    mov al, bh
    out dx, al
""" + EXIT

#: far CALL/JMP (direct and through memory), RETF, INT n to handlers the
#: guest writes into the IVT, IRET, PUSHF/CLI/POPF and STI in a loop; one
#: far routine is reached as 07C0:xxxx and as 0000:7Cxx (the same linear
#: code under two CS bases)
FAR_LOOP = """
    cli""" + real_entry((0x80, "handler"), (0x81, "handler2 - 0x7bf0", 0x07BF)) + """
    mov word ptr [farptr], farfn2 - 0x7c00
    mov word ptr [farptr + 2], 0x07c0
    xor bx, bx
    mov cx, 300
again:
    pushf
    cli
    int 0x80
    int 0x81
    .byte 0x9a
    .word farfn, 0
    call far_ind
    .byte 0xff, 0x1e
    .word farptr
    popf
    sti
    add bx, ax
    dec cx
    jnz again
""" + PRINT_BX + """
handler:
    add ax, 3
    pushf
    pop si
    iret
handler2:
    xor ax, 0x55
    iret
farfn:
    inc ax
    retf
far_ind:
    push cs
    mov di, back
    push di
    mov di, 0x07c0
    push di
    mov di, farfn2 - 0x7c00
    push di
    retf
back:
    ret
farfn2:
    add ax, 7
    .byte 0xea
    .word farback, 0
farback:
    retf 0
farptr:
    .word 0, 0
"""


def test_far_transfers_interrupts_and_flag_writes_stay_in_translated_code():
    """The same as the interpreter on every tier, and on the eager tier the
    interpreter runs a handful of instructions (the set-up's MOV SS and
    port I/O), not the loop's twelve system instructions per pass."""
    m, r = same(asm(FAR_LOOP), tier="eager")
    assert r.reason == "debug-exit"
    st = m.accel.stats()
    assert st["interp_insns"] < 20, st
    assert st["helper_calls"] + st["bails"] < 10, st




def timer_setup(vector: int) -> str:
    """The PIC's IRQ 0 at ``vector`` (ICW1-ICW4, the other lines masked),
    and PIT counter 0 in mode 2 with a short period."""
    return f"""
    mov al, 0x11
    out 0x20, al
    mov al, {vector:#x}
    out 0x21, al
    mov al, 0x04
    out 0x21, al
    mov al, 0x01
    out 0x21, al
    mov al, 0xfe
    out 0x21, al
    mov al, 0x34
    out 0x43, al
    mov ax, 97
    out 0x40, al
    mov al, ah
    out 0x40, al
"""


#: PIT counter 0, mode 2, a short period, only IRQ 0 unmasked at vector 8;
#: the main loop's interrupt windows: STI then one instruction (the shadow),
#: POPF restoring IF = 1, an IRET from INT n with IF = 1 in the pushed FLAGS
TIMED = """
    cli""" + real_entry((8, "irq0"), (0x80, "soft")) + timer_setup(8) + """
    xor bx, bx
    xor cx, cx
    mov di, 1000
work:
    sti
    add cx, 3
    cli
    add bx, cx
    pushf
    sti
    xor dx, cx
    pushf
    cli
    inc bx
    popf
    add cx, bx
    popf
    cli
    pushf
    pop ax
    or ax, 0x200
    push ax
    cli
    popf
    add dx, 5
    cli
    int 0x80
    add bx, 1
    dec di
    jnz work
    cli
    mov ax, [ticks]
    mov dx, 0x3f8
    out dx, al
    mov al, ah
    out dx, al
""" + EXIT + """
irq0:
    push ax
    inc word ptr [ticks]
    mov al, 0x20
    out 0x20, al
    pop ax
    iret
soft:
    sti
    add dx, 1
    iret
ticks:
    .word 0
"""


def _acks(accel, image, hot_threshold=None):
    log = io.StringIO()
    m = Machine(accel=accel, log=log, log_flags=["int"])
    if hot_threshold is not None:
        m.accel.hot_threshold = hot_threshold
    m.load_image(image)
    r = m.run(icount_limit=2_000_000)
    acks = re.findall(r"irq: vector 0x(..) acknowledged at icount ~?(\d+)", log.getvalue())
    out = (r.reason, r.icount, m.serial_output(), m.cpu.snapshot(), acks)
    m.close()
    return out


def test_timer_interrupts_at_the_same_instruction_after_sti_popf_and_iret():
    img = asm(TIMED)
    ref = _acks("interp", img)
    assert ref[0] == "debug-exit"
    assert len(ref[4]) > 20            # the windows do take interrupts
    for thr in (1, None, 2):
        got = _acks("tcg", img, thr)
        assert got[:3] == ref[:3], thr
        assert got[3] == ref[3], thr
        assert got[4] == ref[4], thr


#: POPF setting TF in a loop: from then on the dispatcher hands every
#: instruction to the interpreter (which looks at TF at each boundary); a
#: #DB handler is in place at vector 1 for an engine that delivers the trap
TRAP = real_entry((1, "db_handler")) + """
    mov cx, 50
again:
    pushf
    pop ax
    or ax, 0x100
    push ax
    popf
    add bx, 1
    add bx, 2
    add bx, 3
    add bx, 4
    add bx, 5
    add bx, 6
    add bx, 7
    add bx, 8
    add bx, 9
    add bx, 10
    add bx, 11
    add bx, 12
    dec cx
    jnz again
    mov ax, [traps]
    mov dx, 0x3f8
    out dx, al
    mov al, ah
    out dx, al
""" + EXIT + """
db_handler:
    push bp
    mov bp, sp
    inc word ptr [traps]
    inc word ptr [left]
    cmp word ptr [left], 10
    jb keep
    mov word ptr [left], 0
    and word ptr [bp + 6], 0xfeff
keep:
    pop bp
    iret
traps:
    .word 0
left:
    .word 0
"""


def test_popf_setting_tf_leaves_the_same_state():
    same(asm(TRAP))


#: one RETF (at 0000:7F00) returning to the same IP, 7D05, under two code
#: segments: CS = 0 (linear 7D05: ADD BX, 1) and CS = 0010 (linear 7E05:
#: ADD BX, 100) -- the exit's next block depends on CS, not on IP alone
TWO_CS = """
    xor ax, ax
    mov ds, ax
    mov ss, ax
    mov sp, 0x7000
    xor bx, bx
    mov cx, 50
again:
    call 0x7d00
    .byte 0xea
    .word 0x7d00, 0x0010
back:
    dec cx
    jnz again
""" + PRINT_BX
STUB_A = """
    .byte 0x9a
    .word 0x7f00, 0
    add bx, 1
    ret
"""
STUB_B = """
    .byte 0x9a
    .word 0x7f00, 0
    add bx, 100
    .byte 0xea
    .word {back}, 0
"""


def _two_cs_image() -> bytes:
    img = asm(TWO_CS)
    back = 0x7C00 + img.index(bytes((0xEA, 0x00, 0x7D, 0x10, 0x00))) + 5
    img = _placed(img, 0x7D00, asm(STUB_A, 0x7D00))
    img = _placed(img, 0x7E00, asm(STUB_B.format(back=back), 0x7D00))
    return _placed(img, 0x7F00, bytes((0xCB,)))


def test_a_far_return_to_one_ip_under_two_code_segments():
    img = _two_cs_image()
    m, _ = same(img)
    assert m.serial_output() == bytes((50 * 101 & 0xFF, 50 * 101 >> 8))


def test_single_stepping_through_far_transfers_is_exact():
    """Stepped one instruction at a time on translated one-instruction
    blocks (the stepper's map of blocks by IP is per code segment: a far
    transfer changes it), the interpreter's state after every step."""
    img = _two_cs_image()
    mi, mt = Machine(accel="interp"), Machine(accel="tcg", one_insn_per_tb=True)
    mt.accel.hot_threshold = 1
    for m in (mi, mt):
        m.load_image(img)
        m.accel.set_single_step(True)
    for _ in range(400):
        ri, rt = mi.run(), mt.run()
        assert (rt.reason, rt.icount) == (ri.reason, ri.icount)
        assert mt.cpu.snapshot() == mi.cpu.snapshot()
    assert mt.accel.stats()["blocks_translated"] > 0
