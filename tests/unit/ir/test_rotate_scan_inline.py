"""Rotates by CL (SDM Vol. 2B "RCL/RCR/ROL/ROR"), SHLD/SHRD by CL ("SHLD",
"SHRD"), BSF/BSR ("BSF", "BSR") and PUSHF in translated code: computed in
the block, not helpers that end it.  A masked count of 0 changes neither
the operand nor CF and OF, so the flags of the instruction before show
through; 8- and 16-bit rotates wrap modulo their width (RCL/RCR modulo
width + 1); a 16-bit SHLD/SHRD by 17..31 shifts through ``dest:src:dest``;
a zero source leaves BSF/BSR's destination as it was and sets ZF.  A loop
over every count 70..0 of each, with the flags image (PUSHF) after each,
leaves the same registers, memory and flags on the translator as on the
interpreter.

CF and OF alone over a lazy record (a rotate; IMUL under ``-cpu max``,
which keeps SF, ZF, AF and PF) keep the record lazy, as the interpreter
does -- also where the record's kind is known only at run time (a loop
that starts with a rotate): a loop of IMUL then DEC (which keeps the
IMUL's CF) and one starting with ROR compute no RFLAGS word."""

import io

from tests.unit.ir.x86_guests import count_loop, print_words, run_guest

GUEST = count_loop(0x0badf00d) + """
    mov ebx, eax
    xor ebx, 0x5a5a1234
    add ax, bp              ; flags a count of 0 must keep
    rol eax, cl
    pushf
    pop dx
    add si, dx
    xor di, ax
    ror bx, cl
    pushf
    pop dx
    add si, dx
    add di, bx
    sub bp, di              ; new flags again
    rcl bl, cl
    pushf
    pop dx
    xor si, dx
    add di, bx
    rcr word ptr [0x9000], cl
    pushf
    pop dx
    add si, dx
    rol byte ptr [0x9005], cl
    jo ovf
    inc si
ovf:
    shld eax, ebx, cl
    pushf
    pop dx
    xor si, dx
    add di, ax
    shrd dword ptr [0x9002], eax, cl
    pushf
    pop dx
    add si, dx
    shld bx, ax, cl
    pushf
    pop dx
    xor si, dx
    add di, bx
    shrd ax, bx, cl
    add di, ax
    mov eax, ecx
    and eax, 0x00f0f00c     ; zero for some counts
    mov edx, 0x12345678
    bsf edx, eax
    pushf
    add di, dx
    pop dx
    xor si, dx
    mov edx, ecx
    bsr dx, ax
    pushf
    add di, dx
    pop dx
    add si, dx
    bsr ebx, eax
    add di, bx
    dec ecx
    jns again
    mov cx, [0x9000]
    mov bx, [0x9004]
""" + print_words("si", "di", "cx", "bx") + """
"""

IMUL_DEC = """
    xor ax, ax
    mov ds, ax
    mov dword ptr [0x9000], 0x9e3779b1
    xor esi, esi
    mov ecx, 3000
    mov bx, 0x9000
again:
    imul eax, dword ptr [bx], 13
    add esi, eax
    imul edi, esi, 0x10001
    dec ecx
    jnz again
    pushf
    pop cx
""" + print_words("si", "di", "cx") + """
"""

ROR_LOOP = """
    xor ax, ax
    mov ds, ax
    mov bx, 0x1234
    xor si, si
    mov ecx, 300
again:
    ror ax, 1
    add ax, [si + 0x7c00]
    inc si
    cmp si, 64
    jne again
    xor si, si
    dec ecx
    jnz again
    jmp next
next:
    rcl bx, 1
    rol ax, 3
    pushf
    pop cx
""" + print_words("ax", "bx", "cx") + """
"""


def test_rotates_shxd_and_scans_by_cl_agree_with_the_interpreter():
    assert run_guest(GUEST, "tcg", 100_000)[0] == run_guest(GUEST, "interp", 100_000)[0]


def test_rotates_shxd_scans_and_pushf_are_no_helpers():
    out, stats = run_guest(GUEST, "tcg", 100_000, io.StringIO())
    assert stats["helper_calls"] == 0


def test_imul_then_dec_agrees_with_the_interpreter():
    assert run_guest(IMUL_DEC, "tcg", 100_000)[0] == run_guest(IMUL_DEC, "interp", 100_000)[0]


def test_imul_keeps_the_flags_lazy():
    log = io.StringIO()
    run_guest(IMUL_DEC, "tcg", 100_000, log)
    code = log.getvalue()
    assert "def region_" in code
    assert "rflags(" not in code


def test_a_loop_starting_with_a_rotate_agrees_with_the_interpreter():
    assert run_guest(ROR_LOOP, "tcg", 100_000)[0] == run_guest(ROR_LOOP, "interp", 100_000)[0]


def test_a_loop_starting_with_a_rotate_keeps_the_flags_lazy():
    log = io.StringIO()
    run_guest(ROR_LOOP, "tcg", 100_000, log)
    code = log.getvalue()
    loop = code[code.index("def region_"):]
    assert "for left in range(" in loop
    assert "rflags(" not in loop[:loop.index("g = CCG[e]")]
