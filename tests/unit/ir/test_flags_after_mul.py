"""MUL makes the flags explicit (CF and OF from the product, the other
arithmetic flags kept: kasou's choice for the bits the SDM leaves
undefined, Vol. 2A "MUL"), which costs a full RFLAGS computation of the
record before it.  When an ADD or ADC follows before anything reads the
flags, those arithmetic bits can never show (SDM Vol. 1 §3.4.3.1: ADD and
ADC define all six), so the translator keeps only fl's other bits -- no
RFLAGS computation at all, in a loop as around it.  Where the bits do show
(PUSHF, a Jcc on ZF, INC keeping CF), the flags stay exact: every loop's
PUSHF image and registers go to COM1, the same on both engines."""

import io

import pytest

from emu import loader
from emu.machine import Machine

HEAD = """
    xor ax, ax
    mov ds, ax
    mov si, 1
    xor bx, bx
    xor bp, bp
    mov dx, 0x3f8
"""

LCG = """
    mov cx, 300
lcg:
    mov ax, si
    mul word ptr [k]
    add bx, ax
    adc si, dx
    adc bp, 0
    loop lcg
"""

OBSERVED = """
    mov cx, 300
seen1:
    mov ax, si
    mul word ptr [k]
    pushf
    pop di
    add bx, di
    add si, ax
    loop seen1
    mov cx, 300
seen2:
    mov ax, si
    mul word ptr [k]
    inc si
    pushf
    pop di
    xor bx, di
    loop seen2
    mov cx, 300
seen3:
    add si, bx
    mov ax, si
    mul word ptr [k]
    jnz skip
    inc bp
skip:
    adc bx, ax
    loop seen3
"""

TAIL = """
    pushf
    pop di
    mov dx, 0x3f8
    mov ax, di
    out dx, al
    mov al, ah
    out dx, al
    mov ax, bx
    out dx, al
    mov al, ah
    out dx, al
    mov ax, si
    out dx, al
    mov al, ah
    out dx, al
    mov ax, bp
    out dx, al
    mov al, ah
    out dx, al
    mov al, 0
    out 0xf4, al
k:
    dw 0x4e6d
"""


def run(accel, body, log=None):
    m = Machine(accel=accel, log=log, log_flags=("out_asm",) if log is not None else ())
    try:
        m.load_image(loader.assemble(HEAD + body + TAIL, "<test>", 0x7C00).data)
        r = m.run(icount_limit=200_000)
        assert (r.reason, r.status) == ("debug-exit", 1), r.message
        return m.serial_output()
    finally:
        m.close()


@pytest.mark.parametrize("body", [LCG, OBSERVED, LCG + OBSERVED], ids=["lcg", "observed", "both"])
def test_flags_and_registers_agree_with_the_interpreter(body):
    assert run("tcg", body) == run("interp", body)


def test_a_mul_add_adc_loop_computes_no_rflags():
    log = io.StringIO()
    run("tcg", LCG, log)
    code = log.getvalue()
    assert "def region_" in code
    assert "rflags(" not in code
