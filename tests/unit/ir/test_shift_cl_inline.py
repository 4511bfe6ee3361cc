"""SHL, SAL, SHR and SAR by CL in translated code (SDM Vol. 2B
"SAL/SAR/SHL/SHR"): computed in the block, not a helper that ends it.  A
count of 0 (CL masked to 5 bits: 0, 32, 64 ...) changes neither the operand
nor any flag, so the flags of the ADD before it show through: a loop of
8-, 16- and 32-bit shifts of registers and memory by every count, with
PUSHF after each, leaves the same registers, memory and flags on the
translator as on the interpreter."""

import io

from tests.unit.ir.x86_guests import count_loop, print_words, run_guest

GUEST = count_loop(0) + """
    add ax, bp              ; flags a count of 0 must keep
    shl eax, cl
    pushf
    pop dx
    add si, dx
    xor di, ax
    sar ax, cl
    pushf
    pop dx
    add si, dx
    add di, ax
    add bp, ax              ; new flags again
    shr bl, cl
    pushf
    pop dx
    xor si, dx
    add word ptr [0x9000], bp
    sal word ptr [0x9000], cl
    pushf
    pop dx
    add si, dx
    sar dword ptr [0x9002], cl
    pushf
    pop dx
    xor si, dx
    add di, bx
    dec ecx
    jns again
    mov cx, [0x9000]
    mov bx, [0x9002]
""" + print_words("si", "di", "cx", "bx") + """
"""


def run(accel, log=None):
    return run_guest(GUEST, accel, 100_000, log)


def test_shifts_by_cl_agree_with_the_interpreter():
    assert run("tcg")[0] == run("interp")[0]


def test_a_shift_by_cl_is_no_helper():
    out, stats = run("tcg", io.StringIO())
    # 71 iterations of five shifts by CL and five PUSHF (inline too)
    assert stats["helper_calls"] == 0
