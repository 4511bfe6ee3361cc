"""80286 real mode: a REP MOVSW/LODSW/STOSW whose word lies at offset 0xFFFF
takes #GP partway through the REP (SDM Vol. 3A §22 "Segment wraparound":
the 286 and later fault where the 8086 wraps).  What the chip leaves:

* the pointers of the faulting access already advanced (a source read: rSI;
  a destination write: rSI and rDI) -- SingleStepTests 80286 A5 #41, #130,
  #167, #175; AB #79; AD #60;
* rCX: a faulting read has taken its own iteration off (A5 #167, #175; 6F
  REP OUTSW), a faulting write has also counted the next one, -2 (6D REP
  INSW #126, #151, #168; Intel, "80286 REP MOVS and REP INS
  Restartability", 1984: the restart rule for a REP MOVS/INS destination
  violation needs rCX = 0xFFFF after the last element);
* the pushed IP: the instruction's first prefix (A5 #167, four prefixes).

Each test runs a REP with CX > 1 so the fault lands mid-REP, and works out
the state by hand from those rules: DS = ES = SS = 0, #GP handler at 0:9000.
"""

import pytest

from cpu_harness import machine, reg

HANDLER = 0x9000
STACK = 0x6000
DF = 0x400


def fault_state(code, flags=0x2, mem=(), **regs):
    """Run ``code`` at 0:7C00 on the 286 until the #GP handler's HLT; return
    (CPU, pushed IP, pushed CS)."""
    ivt = [(13 * 4, 2, HANDLER), (13 * 4 + 2, 2, 0), (HANDLER, 1, 0xF4)]
    m = machine(bytes(code), cpu="286", steps=40, flags=flags, sp=STACK,
                mem=ivt + list(mem), **regs)
    s = m.cpu
    assert s.rip == HANDLER + 1, f"no #GP taken: IP = {s.rip:#x}"
    sp = reg(s, "sp")
    assert sp == STACK - 6
    return s, m.ram.read(sp, 2), m.ram.read(sp + 2, 2)


def test_rep_stosw_forward_write_fault_counts_two():
    # CX = 5, DI = FFFB, DF = 0: words at FFFB, FFFD are stored (CX 5 -> 3,
    # DI -> FFFF); the third at FFFF (bytes FFFF, 10000) is beyond the limit:
    # DI advanced to 0001, CX 3 - 2 = 1.
    s, ip, cs = fault_state([0xF3, 0xAB], cx=5, di=0xFFFB, ax=0x1234)
    assert (reg(s, "cx"), reg(s, "di")) == (1, 0x0001)
    assert (ip, cs) == (0x7C00, 0)


def test_rep_stosw_backward_write_fault_counts_two():
    # CX = 6, DI = 0003, DF = 1: words at 0003, 0001 stored (CX 6 -> 4, DI ->
    # FFFF); the word at FFFF faults: DI advanced to FFFD, CX 4 - 2 = 2.
    s, ip, _ = fault_state([0xF3, 0xAB], flags=0x2 | DF, cx=6, di=0x0003)
    assert (reg(s, "cx"), reg(s, "di")) == (2, 0xFFFD)
    assert ip == 0x7C00


def test_rep_stosw_last_element_leaves_cx_ffff():
    # CX = 2, DI = FFFD: one word stored (CX -> 1); the last one faults:
    # 1 - 2 = 0xFFFF, the value Intel's restart rule needs.
    s, _, _ = fault_state([0xF3, 0xAB], cx=2, di=0xFFFD)
    assert (reg(s, "cx"), reg(s, "di")) == (0xFFFF, 0x0001)


def test_rep_movsw_destination_fault_advances_both_and_counts_two():
    # CX = 4, SI = 1000, DI = FFFD: one word moved (SI 1002, DI FFFF, CX 3);
    # the store at FFFF faults after the read: SI 1004, DI 0001, CX 3 - 2 = 1.
    s, ip, _ = fault_state([0xF3, 0xA5], cx=4, si=0x1000, di=0xFFFD)
    assert (reg(s, "cx"), reg(s, "si"), reg(s, "di")) == (1, 0x1004, 0x0001)
    assert ip == 0x7C00


def test_rep_movsw_destination_fault_backward():
    # DF = 1, CX = 3, SI = 2000, DI = 0001: one word moved (SI 1FFE, DI FFFF,
    # CX 2); the store at FFFF faults: SI 1FFC, DI FFFD, CX 0 (2 - 2).
    s, _, _ = fault_state([0xF3, 0xA5], flags=0x2 | DF, cx=3, si=0x2000, di=0x0001)
    assert (reg(s, "cx"), reg(s, "si"), reg(s, "di")) == (0, 0x1FFC, 0xFFFD)


def test_rep_movsw_source_fault_midway_counts_one():
    # DF = 1, CX = 4, SI = 0001, DI = 2000 (as A5 #175, but mid-REP): one word
    # moved (SI FFFF, DI 1FFE, CX 3); the read at FFFF faults: SI FFFD,
    # DI unchanged, CX 3 - 1 = 2.  Pushed IP: the first of the prefixes
    # (ES override, REP), 7C00.
    s, ip, _ = fault_state([0x26, 0xF3, 0xA5], flags=0x2 | DF, cx=4, si=0x0001, di=0x2000)
    assert (reg(s, "cx"), reg(s, "si"), reg(s, "di")) == (2, 0xFFFD, 0x1FFE)
    assert ip == 0x7C00


@pytest.mark.parametrize("df, si, cx, after", [
    # DF = 0: SI FFFB, FFFD read (CX 5 -> 3); FFFF faults: SI 0001, CX 2
    (0, 0xFFFB, 5, (2, 0x0001)),
    # DF = 1: SI 0001 read (CX 3 -> 2, SI FFFF); FFFF faults: SI FFFD, CX 1
    (DF, 0x0001, 3, (1, 0xFFFD)),
])
def test_rep_lodsw_read_fault_counts_one(df, si, cx, after):
    s, ip, _ = fault_state([0xF3, 0xAD], flags=0x2 | df, cx=cx, si=si,
                           mem=[(0xFFFD, 2, 0xBEEF), (0x0001, 2, 0xCAFE)])
    assert (reg(s, "cx"), reg(s, "si")) == after
    assert reg(s, "ax") == (0xBEEF if df == 0 else 0xCAFE)   # the last word read
    assert ip == 0x7C00
