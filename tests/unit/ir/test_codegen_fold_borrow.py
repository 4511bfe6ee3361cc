"""A count decremented then tested by the jump that follows: the correction
of a count that went below zero is made in the jump's condition
(:meth:`emu.ir.codegen.PyCodegen._fold_borrow`): ``x > 0 or x and
(x := x + N)`` -- one compare on the passes whose count stays above zero,
the wrap where it went below (DEC of 0 gives all ones, ZF clear: SDM Vol. 2A
"DEC").  JNZ takes the jump on a count that wrapped, JZ does not; stopped
anywhere by the instruction budget, the state is the interpreter's."""

import pytest

from tests.differential.translated import stopped_at, tcg_regions

GUEST = """
    xor ax, ax
    mov ds, ax
    mov bp, 3
pass:
    xor cx, cx                  ; DEC of 0: 65535, and the loop goes on
again:
    add ax, cx
    xor bx, ax
    dec cx
    jnz again
    mov si, 0                   ; JZ not taken on the wrapped count either
down:
    add ax, si
    sub si, 1
    jz out
    cmp si, 65530
    ja down
out:
    xor ecx, ecx                ; LOOP on CX from 0: 65535, taken
    xor edx, edx
lp:
    inc edx
    cmp edx, 40
    je gone
    loop lp
gone:
    dec bp
    jnz pass
    mov [0x500], ax
    mov [0x502], bx
    mov [0x504], si
    mov [0x506], ecx
    hlt
"""


def run(accel, limit, log=None):
    return stopped_at(GUEST, accel, 1 << 20, limit, (0x500, 10), log)


@pytest.mark.parametrize("limit", [5, 6, 7, 100, 101, 102, 3000, 3001, 3002, 3003,
                                   327_679, 327_680, 327_681, 327_700, 327_701, 2_000_000])
def test_stopped_anywhere_the_state_is_the_interpreters(limit):
    assert run("tcg", limit) == run("interp", limit)


def test_the_jump_corrects_the_count():
    want = run("interp", 2_000_000)
    assert want[0] == "halt"
    regions = tcg_regions(run, 2_000_000)
    code = "\n".join(regions)
    assert "if r1 > 0 or r1 and (r1 := r1 + 65536):" in code      # DEC CX, JNZ
    assert "if r1 < 0: r1 += 65536" not in code
    assert run("tcg", 2_000_000) == want
