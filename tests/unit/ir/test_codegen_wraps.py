"""A register write of arithmetic masked to its width, compiled as a compare.

ADD, SUB, INC and DEC write their result modulo 2**16 or 2**32 (SDM Vol. 1
§7.3.2); the sum of two register values leaves that range by at most one
wrap (a difference too, below zero), so the code generator assigns the
unmasked value and corrects it when it is out of range -- a specialised
compare where ``& 0xffffffff`` is a generic operation that builds a new
int.  The values here cross both ends on every pass, in 32-bit and in
16-bit code: stopped anywhere, the state is the interpreter's."""

import re

import pytest

from tests.differential.pm32 import guest
from tests.differential.translated import stopped_at, tcg_regions

BODY = """
    mov ecx, 0x30000
    mov eax, 0xfffe0000
    mov edx, 5
    mov edi, 0xfffffff0
again:
    add eax, ecx                ; crosses 2**32 every few passes
    sub edx, ecx                ; below zero
    add edx, 0x2f000
    inc edi                     ; 0xffffffff -> 0
    add bx, cx                  ; 16-bit: crosses 2**16
    sub si, 7                   ; 16-bit: below zero
    dec ebp
    sub ecx, 0x100
    jnz again
    mov [0x500], eax
    mov [0x504], edx
    mov [0x508], edi
    hlt
"""
GUEST32 = guest(BODY)


def run(accel, limit, log=None):
    return stopped_at(GUEST32, accel, 16 << 20, limit, (0x500, 12), log)


@pytest.mark.parametrize("limit", [200, 201, 203, 205, 5000, 5003, 100_000])
def test_stopped_anywhere_the_state_is_the_interpreters(limit):
    assert run("tcg", limit) == run("interp", limit)


def test_full_width_results_are_corrected_by_a_compare_not_masked():
    want = run("interp", 100_000)
    assert want[0] == "halt"
    regions = tcg_regions(run, 100_000)
    for code in regions:
        # the 32-bit sum, difference, increment and decrement
        assert re.search(r"if (r\d+) > 4294967295: \1 -= 4294967296", code)
        assert re.search(r"if (r\d+) < 0: \1 \+= 4294967296", code)
        assert not re.search(r"^\s*r\d+ = .*& 4294967295$", code, re.M)


#: a cdecl frame: the argument pushed, read at [EBP+8]
FRAME = guest("""
    mov ecx, 600
again:
    push ecx
    call f
    add esp, 4
    add [0x500], eax
    dec ecx
    jnz again
    hlt
f:
    push ebp
    mov ebp, esp
    mov eax, [ebp+8]
    add eax, eax
    pop ebp
    ret
""")


def run_frame(accel, limit, log=None):
    return stopped_at(FRAME, accel, 16 << 20, limit, (0x500, 4), log)


@pytest.mark.parametrize("limit", [300, 3001, 100_000])
def test_a_frame_stopped_anywhere_matches_the_interpreter(limit):
    assert run_frame("tcg", limit) == run_frame("interp", limit)


def test_32_bit_stack_addresses_are_corrected_by_a_compare_not_masked():
    """PUSH and CALL step ESP, [EBP+8] adds to EBP: each a temporary (the
    store's address and the next step's operand, a load's address) that is
    assigned unmasked and corrected by a compare, like a register write --
    or, the load's address through the flat segment, not corrected at all:
    its test against the end of RAM (a power of two: with its alignment,
    one mask) catches a sum that wrapped."""
    assert run_frame("interp", 100_000)[0] == "halt"
    code = "\n".join(tcg_regions(run_frame, 100_000))
    assert re.search(r"if t\d+ < 0: t\d+ \+= 4294967296", code)
    assert re.search(r"(a\d+) = t\d+ \+ 8\n\s*if \1 & -16777213:", code)
    assert not re.search(r"if a\d+ > 4294967295: a\d+ -= 4294967296", code)
    assert not re.search(r"^\s*[ta]\d+ = .* & 4294967295$", code, re.M)


#: LEA with a negative displacement, 32- and 16-bit, crossing zero on the
#: passes where ECX and SI are small
NEG = guest("""
    mov ecx, 400
    xor esi, esi
again:
    lea eax, [ecx-3]            ; below zero at ECX < 3
    add [0x500], eax
    lea bx, [si-5]              ; 16-bit, below zero at SI < 5
    add [0x504], bx
    inc si
    dec ecx
    jnz again
    hlt
""")


def run_neg(accel, limit, log=None):
    return stopped_at(NEG, accel, 16 << 20, limit, (0x500, 8), log)


@pytest.mark.parametrize("limit", [100, 2399, 2405, 100_000])
def test_negative_displacements_stopped_anywhere_match_the_interpreter(limit):
    assert run_neg("tcg", limit) == run_neg("interp", limit)


def test_a_negative_constant_is_subtracted_not_added_modulo():
    """x + 0xFFFFFFFD (mod 2**32) is x - 3 corrected below zero: small ints
    all the way, where the sum is a big int built and then cut down."""
    assert run_neg("interp", 100_000)[0] == "halt"
    code = "\n".join(tcg_regions(run_neg, 100_000))
    assert re.search(r"(r\d+) = r\d+ - 3\n\s*if \1 < 0: \1 \+= 4294967296", code)
    assert re.search(r"(r\d+) = r\d+ - 5\n\s*if \1 < 0: \1 \+= 65536", code)
    assert not re.search(r" \+ (4294967293|65531)\b", code)
