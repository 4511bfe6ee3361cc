"""DF where the translator knows it: through what changes other flags only.

A string instruction steps rSI/rDI by +size or -size as DF says (SDM Vol. 1
§3.4.3.2, Vol. 2B "LODS", "STOS").  INC and DEC keep CF (folded into fl),
shifts write only arithmetic flags, CLD and STD set DF to a constant (Vol.
2A "CLD", Vol. 2B "STD"): after any of them DF is still what it was (a
region's constant under its entry guard) or that constant, so the step is
a constant too -- no test of DF in the loop.  The results are the
interpreter's."""

import io

from tests.differential.translated import machine, regions_in

#: DF read after INC/DEC and a shift in the same block, DF constant at entry
AFTER_FOLDS = """
    xor ax, ax
    mov ds, ax
    mov es, ax
    cld
    mov si, 0x1000
    mov di, 0x2000
    mov cx, 60
copy:
    dec bx                      ; CF folded into fl
    lodsb
    shl dx, 1                   ; arithmetic flags only
    inc bx
    stosb
    loop copy
    hlt
"""

#: DF set in the block that reads it, a CF fold between
SET_IN_BLOCK = """
    xor ax, ax
    mov ds, ax
    mov es, ax
    mov si, 0x1000
    mov di, 0x2000
    mov cx, 60
flip:
    cld
    cmp ax, bx
    dec bx                      ; CF of the CMP folded into fl
    lodsb                       ; forwards
    std
    cmp ax, bx
    inc bx
    stosb                       ; backwards
    inc di
    inc di
    loop flip
    cld
    hlt
"""


def run(src, accel, log=None):
    with machine(src, accel, 1 << 20, log) as m:
        m.ram.load(0x1000, bytes(range(7, 7 + 200)))
        r = m.run(icount_limit=100_000)
        return (r.reason, tuple(m.cpu.regs[:8]), m.cpu.rflags, m.ram.read_bytes(0x1F00, 0x200))


def _steps_tested(src) -> list:
    """Each region's code after its entry guard: where DF is tested."""
    log = io.StringIO()
    got = run(src, "tcg", log)
    assert got == run(src, "interp")
    regions = regions_in(log)
    assert regions
    return [r.split("S.fl & 1024 != 0", 1)[-1].count("& 1024") for r in regions]


def test_df_after_inc_dec_and_shifts_is_the_regions_constant():
    assert set(_steps_tested(AFTER_FOLDS)) == {0}


def test_df_after_cld_or_std_in_the_block_is_a_constant():
    assert set(_steps_tested(SET_IN_BLOCK)) == {0}
