"""Flags a loop's next flag writer always overwrites are computed at its
exits only.  RCR and RCL write only CF and OF (SDM Vol. 2B "RCL/RCR/ROL/ROR"),
INC and DEC keep CF (Vol. 2A "INC", "DEC"): on top of the lazy record of
the instruction before, the translator makes fl explicit for them.  When
the loop's next writer on every path hides those bits again (SHR, SHL, ADD,
XOR define every arithmetic flag they produce, Vol. 1 §3.4.3.1), the
region carries only fl's other bits around the loop, and the exact RFLAGS
is computed where the region leaves -- its budget exits included.  Every
loop's PUSHF image and registers go to COM1, the same on both engines, run
to the end and cut short at many places."""

import io
import re

import pytest

from emu import loader
from emu.machine import Machine

HEAD = """
    xor ax, ax
    mov ds, ax
    mov ax, 0xffff
    mov dx, ax
    mov si, 0x7c00
    xor bx, bx
    xor bp, bp
"""

LOOPS = {
    # CRC-32 in DX:AX: SHR then RCR, XOR the polynomial when a one fell out
    "rcr": """
    mov cx, 300
l_rcr:
    shr dx, 1
    rcr ax, 1
    jnc n_rcr
    xor ax, 0x8320
    xor dx, 0xedb8
n_rcr:
    loop l_rcr
""",
    # CRC-16 in the other direction: SHL then RCL
    "rcl": """
    mov cx, 300
l_rcl:
    shl ax, 1
    rcl dx, 1
    jnc n_rcl
    xor ax, 0x1021
n_rcl:
    loop l_rcl
""",
    # INC and DEC keep the CF of the ADD before them; the next ADD hides it
    "incdec": """
    mov cx, 300
l_inc:
    add bx, si
    inc si
    add bp, bx
    dec dx
    loop l_inc
""",
    # the same with a load first, which may leave the block before any flag
    # is written: there the flags of the last iteration are exact
    "incdec_load": """
    mov cx, 300
l_incl:
    add bx, [si]
    inc si
    add bp, bx
    dec dx
    loop l_incl
""",
    # ADC and SBB read the carry of the record before them
    "adcsbb": """
    mov cx, 300
l_adc:
    shr dx, 1
    adc ax, bx
    shl bx, 1
    sbb bp, 3
    inc bx
    loop l_adc
""",
}

def dump() -> str:
    """PUSHF's image and the registers the loops change, to COM1."""
    lines = ["pushf", "pop di", "mov dx, 0x3f8"]
    for r in ("di", "bx", "bp", "si"):
        lines += [f"mov ax, {r}", "out dx, al", "mov al, ah", "out dx, al"]
    return "".join(f"    {ln}\n" for ln in lines)


EXIT = "    mov al, 0\n    out 0xf4, al\n"


def image(names):
    """The loops ``names``, each followed by the PUSHF image and registers."""
    body = "".join(LOOPS[n] + dump() for n in names)
    return loader.assemble(HEAD + body + EXIT, "<test>", 0x7C00).data


def run(accel, img, limit=400_000, log=None):
    m = Machine(accel=accel, log=log, log_flags=("out_asm",) if log is not None else ())
    try:
        m.load_image(img)
        r = m.run(icount_limit=limit)
        return r.reason, r.icount, m.serial_output(), m.cpu.snapshot()
    finally:
        m.close()


@pytest.mark.parametrize("name", sorted(LOOPS))
def test_flags_agree_with_the_interpreter(name):
    img = image([name])
    whole = run("interp", img)
    assert whole[0] == "debug-exit"
    assert run("tcg", img) == whole
    # cut short inside the loops: the budget exits store the exact flags
    for limit in (997, 1234, 2001, 3333):
        assert run("tcg", img, limit) == run("interp", img, limit), limit


def test_loops_compute_no_flags_inside():
    """Inside the regions (the code under their ``while True``) no flag
    helper is called and fl is never stored: only the exits compute it."""
    log = io.StringIO()
    names = sorted(set(LOOPS) - {"incdec_load"})
    img = image(names)
    assert run("tcg", img, log=log)[2] == run("interp", img)[2]
    code = log.getvalue()
    # each region's source, up to what the log shows next
    regions = [r.split("\nOUT: ")[0] for r in code.split("OUT: [region of ")[1:]]
    assert len(regions) >= len(names)
    for src in regions:
        inside = [ln.strip() for ln in src.splitlines() if ln.startswith("        ")]
        assert inside
        for ln in inside:
            assert "rflags(" not in ln and "carry(" not in ln, ln
            assert not ln.startswith("cc_fl =") and ", cc_fl =" not in ln, ln
            # nor the CF/OF word a 16-bit SHR records ((x >> 15) << 1: its OF),
            # which only the exits read
            assert not re.search(r">> 15\)+ << 1", ln), ln
