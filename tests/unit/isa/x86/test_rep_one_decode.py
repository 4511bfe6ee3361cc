"""REP string instructions on the interpreter: one decode and one call of the
semantics per REP, the iterations run inside it -- and the same guest-visible
result as one iteration per step (single-step, or a budget of one), which is
how the loop runs them whenever something must look between iterations.

The reference is the same engine stepped one instruction at a time
(``run(1)`` -- one REP iteration each, the chip's interruptible boundary): a
free run must end in the same registers, memory and instruction count, for
forward and backward copies, REPE/REPNE ending early, a 286 fault midway
and a REP that overwrites its own code.
"""

import sys

from cpu_harness import machine, reg
from emu.isa.x86.semantics import string

DF = 0x400
HANDLER = 0x9000


def _machine(code, cpu="max", flags=0x2, mem=(), **regs):
    """Real-mode ``code`` at 0:7C00, nothing run yet; #UD and #GP go to a HLT."""
    handlers = [(vec * 4, 4, HANDLER) for vec in (6, 13)] + [(HANDLER, 1, 0xF4)]
    return machine(code, cpu, steps=0, flags=flags, mem=list(mem) + handlers, sp=0x6000, **regs)


def _calls_of(fn, run):
    """How many times the Python function ``fn`` is entered while ``run()``
    runs (a profile hook: nothing of the engine is replaced)."""
    code = fn.__code__
    seen = [0]

    def hook(frame, event, arg):
        if event == "call" and frame.f_code is code:
            seen[0] += 1
    sys.setprofile(hook)
    try:
        run()
    finally:
        sys.setprofile(None)
    return seen[0]


def test_rep_stosb_is_one_call_of_its_semantics():
    m = _machine([0xF3, 0xAA, 0xF4], cx=100, di=0x1000, ax=0x5A)
    before = m.accel.icount
    calls = _calls_of(string.stos, lambda: m.accel.run(1000))
    s = m.cpu
    assert calls == 1
    assert (reg(s, "cx"), reg(s, "di")) == (0, 0x1064)
    assert m.ram.read_bytes(0x1000, 100) == b"\x5A" * 100
    assert m.accel.icount - before == 101          # 100 iterations and the HLT


def test_budget_stops_a_rep_between_iterations():
    m = _machine([0xF3, 0xA4, 0xF4], cx=50, si=0x1000, di=0x2000)
    m.accel.run(7)
    s = m.cpu
    assert (reg(s, "cx"), reg(s, "si"), reg(s, "di")) == (43, 0x1007, 0x2007)
    assert s.rip == 0x7C00 and m.accel.icount == 7
    m.accel.run(1000)
    assert reg(s, "cx") == 0 and m.accel.icount == 51


def test_interrupt_is_taken_between_iterations():
    # budget 5, then the interrupt line rises: it is taken at the boundary
    # after the fifth iteration, pushing the REP's IP
    m = _machine([0xF3, 0xAA, 0xF4], flags=0x202, cx=20, di=0x1000)
    m.ram.write(0x20 * 4, 2, HANDLER)
    m.ram.write(0x20 * 4 + 2, 2, 0)
    m.accel.run(5)
    m.accel.irq_line = True
    m.accel.irq_ack = lambda: 0x20
    m.accel.run(100)
    s = m.cpu
    assert s.rip == HANDLER + 1
    assert reg(s, "cx") == 15
    assert m.ram.read(reg(s, "sp"), 2) == 0x7C00


def _state(m):
    s = m.cpu
    return (list(s.regs), s.rip, s.rflags, m.accel.icount, m.ram.read_bytes(0, 0x10000))


def _stepped_and_free(code, cpu="max", flags=0x2, mem=(), steps=400, **regs):
    stepped = _machine(code, cpu, flags, mem, **regs)
    for _ in range(steps):
        if stepped.cpu.halted:
            break
        stepped.accel.run(1)
    free = _machine(code, cpu, flags, mem, **regs)
    while not free.cpu.halted:
        free.accel.run(steps)
    return _state(stepped), _state(free)


TEXT = [(0x1000 + k, 1, b) for k, b in enumerate(b"kasou repeats strings!")]


def test_copies_forward_and_backward_match_single_steps():
    # REP MOVSB forward, then (STD) REP MOVSW backward, then REP LODSB
    code = [0xF3, 0xA4,                 # rep movsb (SI 1000 -> DI 2000, CX 22)
            0xFD,                       # std
            0xBE, 0x14, 0x20,           # mov si, 0x2014
            0xBF, 0x34, 0x30,           # mov di, 0x3034
            0xB9, 0x0B, 0x00,           # mov cx, 11
            0xF3, 0xA5,                 # rep movsw
            0xFC,                       # cld
            0xBE, 0x00, 0x10,           # mov si, 0x1000
            0xB9, 0x05, 0x00,           # mov cx, 5
            0xF3, 0xAC,                 # rep lodsb
            0xF4]
    a, b = _stepped_and_free(code, mem=TEXT, cx=22, si=0x1000, di=0x2000)
    assert a == b
    assert b[4][0x2000:0x2016] == b"kasou repeats strings!"


def test_repe_and_repne_end_early_as_single_steps():
    code = [0xF3, 0xA6,                 # repe cmpsb: stops at the first difference
            0x89, 0xCB,                 # mov bx, cx
            0xBF, 0x00, 0x10,           # mov di, 0x1000
            0xB0, 0x20,                 # mov al, ' '
            0xB9, 0x20, 0x00,           # mov cx, 32
            0xF2, 0xAE,                 # repne scasb: stops after the first blank
            0xF4]
    other = [(0x2000 + k, 1, b) for k, b in enumerate(b"kasou rePeats")]
    a, b = _stepped_and_free(code, mem=TEXT + other, cx=13, si=0x1000, di=0x2000)
    assert a == b
    s = b[0]
    assert s[3] == 13 - 9                   # BX: 9 compared, 'p' != 'P'
    assert s[7] == 0x1006 and s[1] == 32 - 6


def test_286_fault_midway_matches_single_steps():
    # REP STOSW from DI FFF9 with CX 8: three words, then the word at FFFF
    # takes #GP with CX/DI as the 286 leaves them (see test_286_rep_string_faults)
    a, b = _stepped_and_free([0xF3, 0xAB, 0xF4], cpu="286", cx=8, di=0xFFF9, ax=0x1234)
    assert a == b
    regs = b[0]
    assert (regs[1], regs[7], b[1]) == (8 - 3 - 2, 0x0001, HANDLER + 1)


def test_rep_overwriting_its_own_code_matches_single_steps():
    # REP STOSB at 7C00 stores NOPs over itself and the HLT after it: after
    # the first element the rest of the code is decoded again, as on a step
    # by step run (the first store turns the REP prefix into a NOP, the
    # next byte, AA, is a plain STOSB)
    a, b = _stepped_and_free([0xF3, 0xAA, 0xF4, 0xF4], cx=4, di=0x7C00, ax=0x90)
    assert a == b


def test_rep_movsb_over_plain_ram_runs_its_elements_at_once():
    # the budget allows the whole count: no element is copied one by one,
    # and the result is the stepped run's
    code = [0xF3, 0xA4, 0xF4]           # rep movsb; hlt
    m = _machine(code, mem=TEXT, cx=22, si=0x1000, di=0x2000)
    calls = _calls_of(string._movs_element, lambda: m.accel.run(1000))
    assert calls == 0
    assert m.ram.read_bytes(0x2000, 22) == b"kasou repeats strings!"
    assert m.accel.icount == 23
    a, b = _stepped_and_free(code, mem=TEXT, cx=22, si=0x1000, di=0x2000)
    assert a == b


def test_overlapping_copy_and_a_budget_midway_match_single_steps():
    # DI = SI + 1: a forward byte copy replicates the first byte, which one
    # block copy would not; then a REP STOSW run in budgets of 7, each
    # ending between iterations
    code = [0xF3, 0xA4,                 # rep movsb (SI 1000 -> DI 1001, CX 21)
            0xBF, 0x00, 0x30,           # mov di, 0x3000
            0xB9, 0x40, 0x00,           # mov cx, 64
            0xF3, 0xAB,                 # rep stosw
            0xF4]
    regs = dict(mem=TEXT, cx=21, si=0x1000, di=0x1001, ax=0x4B4B)
    stepped, sliced = _machine(code, **regs), _machine(code, **regs)
    while not stepped.cpu.halted:
        stepped.accel.run(1)
    while not sliced.cpu.halted:
        sliced.accel.run(7)
    a, b = _state(stepped), _state(sliced)
    assert a == b
    assert b[4][0x1000:0x1016] == b"k" * 22
    assert b[4][0x3000:0x3080] == b"K" * 128
