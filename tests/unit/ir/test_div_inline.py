"""DIV and IDIV in translated code (SDM Vol. 2A "DIV", "IDIV"): computed in
the block, not a helper that ends it, except where #DE would be raised --
a zero divisor or a quotient that does not fit -- where the block leaves
before the instruction and the interpreter runs it and raises the fault.
A loop of 8-, 16- and 32-bit divisions, some of them faulting (the #DE
handler counts the faults and steps over the two-byte DIV), leaves the
same registers and flags on the translator as on the interpreter, which
the C guests' checksums judge too (pmc_gcd, tests/bench/c_models.py)."""

import io

from tests.unit.ir.x86_guests import print_words, run_guest

GUEST = """
    xor ax, ax
    mov ds, ax
    mov ss, ax
    mov sp, 0x7c00
    mov word ptr [0], de_handler
    mov word ptr [2], 0
    xor si, si
    xor di, di
    xor bp, bp
    mov cx, 300
again:
    mov ax, cx
    imul ax, ax, 97
    mov dx, cx
    shr dx, 4
    mov bx, cx
    sub bx, 150
    div bx              ; 16-bit: by zero once, quotient overflow where dx >= bx
    add si, ax
    add di, dx
    mov ax, cx
    neg ax
    cwd
    mov bx, cx
    and bx, 7
    sub bx, 3
    idiv bx             ; negative dividends, divisors -3..4, by zero
    add si, ax
    xor di, dx
    mov ax, cx
    mov bl, cl
    and bl, 15
    div bl              ; 8-bit: by zero and overflow
    add si, ax
    mov eax, ecx
    imul eax, eax, 0x9e3779b1
    mov edx, ecx
    mov ebx, ecx
    shl ebx, 20
    div ebx             ; 32-bit: overflow while edx >= ebx
    add si, ax
    add di, dx
    mov eax, ecx
    imul eax, eax, -7919
    cdq
    mov ebx, ecx
    sub ebx, 200
    idiv ebx            ; 32-bit signed
    add si, ax
    xor di, dx
    dec cx
    jnz again
    pushf
    pop cx
""" + print_words("cx", "si", "di", "bp") + """
de_handler:
    inc bp
    push bp
    mov bp, sp
    mov bx, [bp + 2]
    cmp byte ptr [bx], 0x66
    jne short_div
    add word ptr [bp + 2], 1
short_div:
    add word ptr [bp + 2], 2
    pop bp
    iret
"""


def run(accel, log=None):
    return run_guest(GUEST, accel, 500_000, log)


def test_divisions_and_faults_agree_with_the_interpreter():
    out, _ = run("interp")
    faults = out[6] | out[7] << 8
    assert 30 < faults < 900          # every kind of #DE happened, not every division
    assert run("tcg")[0] == out


def test_a_division_is_no_helper_and_only_a_fault_leaves_the_block():
    log = io.StringIO()
    out, stats = run("tcg", log)
    faults = out[6] | out[7] << 8
    # 1500 divisions: the helpers are the handler's IRETs, the bails the faults
    assert stats["helper_calls"] <= faults and stats["bails"] <= faults
    assert "//" in log.getvalue()
