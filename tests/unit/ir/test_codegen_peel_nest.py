"""A loop closed by CMP inside an outer loop: its flag record in locals.

The inner loop's path back leaves CMP's record as the same expressions over
its registers every pass (``cc_res = (r6 - r7) & 65535``, ...); the outer
loop's path back leaves DEC's.  The section is peeled on the inner loop's
expressions: its counted passes store no flag field, and the outer path
back stores every field it reads and peels the loop again (the first pass
from the stored state).  Stopped by the instruction budget anywhere -- in
either loop, on either path -- the state is the interpreter's, flags
included."""

import re

import pytest

from emu.ir.codegen import REPEEL
from tests.differential.translated import stopped_at, tcg_regions

GUEST = """
    xor ax, ax
    mov ds, ax
    mov bp, 30
pass:
    mov si, 0x600
    mov di, 0x640
inner:
    add ax, [si]                ; the inner loop: 5 instructions a pass
    xor bx, ax
    add si, 2
    cmp si, di
    jne inner
    inc word [0x600]            ; the outer loop's path back: DEC's record
    add [0x610], ax
    dec bp
    jnz pass
    mov [0x500], ax
    mov [0x502], bx
    hlt
"""


def run(accel, limit, log=None):
    return stopped_at(GUEST, accel, 1 << 20, limit, (0x500, 4), log)


@pytest.mark.parametrize("limit", [5, 6, 7, 8, 9, 10, 11, 12, 170, 171, 172, 173, 174, 175,
                                   176, 177, 178, 179, 180, 1000, 1001, 1002, 1003, 100_000])
def test_stopped_anywhere_the_state_is_the_interpreters(limit):
    assert run("tcg", limit) == run("interp", limit)


def test_the_inner_loops_passes_store_no_flag_field():
    want = run("interp", 100_000)
    assert want[0] == "halt"
    code = tcg_regions(run, 100_000)[-1]
    m = re.search(r"for left in range\(left, \d+, -5\):\n(.*?)\n +continue\n", code, re.S)
    assert m, code
    assert "cc_" not in m.group(1)
    # the outer loop's path back stores the record and peels again
    assert f"pc = {REPEEL}; break" in code
    assert run("tcg", 100_000) == want
