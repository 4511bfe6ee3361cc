"""Signed conditions after CMP/SUB (JL, JGE, JLE, JG, SETcc, CMOVcc: SDM
Vol. 1 Appendix B, SF != OF and ZF) in translated code: the record's
operands with their sign bits flipped compare as unsigned numbers in the
signed order, so no sign extension is computed.  A loop over values around
every boundary (0, 1, -1, the most negative and most positive of each
size) gives the same registers on the translator as on the interpreter."""

import io

from tests.unit.ir.x86_guests import print_words, run_guest

GUEST = """
    xor ax, ax
    mov ds, ax
    xor si, si
    xor di, di
    mov ecx, 70
again:
    mov eax, ecx
    imul eax, eax, 0x9e3779b1
    mov ebx, ecx
    and ebx, 7
    mov edx, [table + ebx * 4]
    mov ebp, [table + 28]
    cmp eax, edx
    jl less
    add si, 1
less:
    cmp edx, ebp
    jle le
    add si, 2
le:
    cmp dx, ax
    jg gt
    add si, 4
gt:
    cmp bp, dx
    jge ge
    add si, 8
ge:
    cmp dl, al
    setl bl
    add di, bx
    cmp eax, 0x7fffffff
    cmovle eax, edx
    add di, ax
    cmp edx, -1
    setg bl
    add di, bx
    dec ecx
    jns again
""" + print_words("si", "di") + """
table:
    dd 0, 1, 0xffffffff, 0x80000000, 0x7fffffff, 0x8000, 0x7fff, 0xffff8000
"""


def test_signed_conditions_agree_with_the_interpreter():
    assert run_guest(GUEST, "tcg", 100_000)[0] == run_guest(GUEST, "interp", 100_000)[0]


def test_signed_conditions_compute_no_sign_extension():
    log = io.StringIO()
    run_guest(GUEST, "tcg", 100_000, log)
    code = log.getvalue()
    assert "def region_" in code
    for sign in (0x80, 0x8000, 0x80000000):
        assert f"^ {sign}) - {sign})" not in code
