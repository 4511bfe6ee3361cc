"""A count decremented or incremented then tested by the jump that follows:
the correction of a count that wrapped is made in the jump's condition
(:meth:`emu.ir.codegen.PyCodegen._fold_wrap`): ``x > 0 or x and
(x := x + N)`` after DEC, ``x < K or x > M and (x := x - N) < K`` after an
ADD of 1 and a CMP with K -- one compare on the passes that do not wrap, the
wrap where they do (DEC of 0 gives all ones, ZF clear: SDM Vol. 2A "DEC";
ADD of 1 to all ones gives 0, below K).  JNZ takes the jump on a count that
wrapped, JZ does not, JB does; stopped anywhere by the instruction budget,
the state is the interpreter's."""

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
    mov di, 0xffff              ; ADD of 1 wraps to 0, below 50: taken
up:
    add bx, di
    add di, 1
    cmp di, 50
    jb up
    dec bp
    jnz pass
    mov [0x500], ax
    mov [0x502], bx
    mov [0x504], si
    mov [0x506], ecx
    mov [0x50a], di
    hlt
"""


def run(accel, limit, log=None):
    return stopped_at(GUEST, accel, 1 << 20, limit, (0x500, 12), log)


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
    assert "if r7 < 50 or r7 > 65535 and (r7 := r7 - 65536) < 50:" in code  # ADD DI, 1, JB
    assert "if r7 > 65535: r7 -= 65536" not in code
    assert run("tcg", 2_000_000) == want
