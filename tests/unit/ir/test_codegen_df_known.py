"""DF where the translator knows it: through what changes other flags only.

A string instruction steps rSI/rDI by +size or -size as DF says (SDM Vol. 1
§3.4.3.2, Vol. 2B "LODS", "STOS").  INC and DEC keep CF (folded into fl),
shifts write only arithmetic flags, CLD and STD set DF to a constant (Vol.
2A "CLD", Vol. 2B "STD"): after any of them DF is still what it was (a
region's constant under its entry guard) or that constant, so the step is
a constant too -- no test of DF in the loop.  The results are the
interpreter's."""

import io

from tests.differential.translated import regions_in
from tests.unit.ir.test_codegen_constant_fl import TOGGLE, run

#: DS = ES = 0, SI = 0x1000 (the data), DI = 0x2000, CX = 60 (DF as it is)
START = TOGGLE.split("flip:")[0]

#: DF read after INC/DEC and a shift in the same block, DF constant at entry
AFTER_FOLDS = START + """
    cld
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
SET_IN_BLOCK = START + """
flip:
    cld
    cmp ax, bx
    dec bx                      ; CF of the CMP folded into fl
    lodsb                       ; forwards
    std
    cmp ax, bx
    inc bx
""" + TOGGLE.split("back:")[1]     # STOSB backwards, DI on, LOOP, CLD, HLT


def _steps_tested(src, guard="S.fl & 1024 != 0") -> list:
    """Each region's code after its entry guard (``guard``: its test of
    DF): where DF is tested."""
    log = io.StringIO()
    got, _ = run(src, "tcg", log)
    assert got == run(src, "interp")[0]
    regions = regions_in(log)
    assert regions
    return [r.split(guard, 1)[-1].count("& 1024") for r in regions]


def test_df_after_inc_dec_and_shifts_is_the_regions_constant():
    assert set(_steps_tested(AFTER_FOLDS)) == {0}


def test_df_after_cld_or_std_in_the_block_is_a_constant():
    assert set(_steps_tested(SET_IN_BLOCK)) == {0}



#: a routine that sets DF itself (CLD) called from a loop: the string loop
#: in it steps by a constant (the region holds the caller's loop, the CLD
#: and the string loop)
CLD_ROUTINE = START + """
    mov bp, 40
again:
    mov si, 0x1000
    mov di, 0x2000
    call copy8
    dec bp
    jnz again
    hlt
copy8:
    cld
    mov cx, 8
copy:
    lodsb
    stosb
    loop copy
    ret
"""

#: the same with STD (DF set when the region is translated), the pointers
#: at the end of the data
STD_ROUTINE = CLD_ROUTINE.replace("cld", "std").replace("0x1000", "0x10c0").replace("0x2000", "0x20c0")


def test_df_set_by_cld_or_std_to_what_the_region_found_is_a_constant():
    assert set(_steps_tested(CLD_ROUTINE)) == {0}
    assert set(_steps_tested(STD_ROUTINE, "S.fl & 1024 != 1024")) == {0}


def test_cld_and_std_over_a_lazy_record_compute_no_flags_word():
    # CLD/STD write DF alone (Vol. 2A "CLD", Vol. 2B "STD"): the record of
    # the last arithmetic instruction stays as it is, nothing computes RFLAGS
    for src in (CLD_ROUTINE, STD_ROUTINE):
        log = io.StringIO()
        run(src, "tcg", log)
        regions = regions_in(log)
        assert regions and all("rflags(" not in r for r in regions)


#: the flags after CLD/STD/CLI over the records of ADD, INC and DEC (PUSHF)
FLAGS_KEPT = START + """
    mov bp, 40
again:
    mov al, 0xff
    add al, 1                   ; CF ZF AF PF
    cld
    pushf
    pop dx
    mov al, 0x7f
    inc al                      ; OF SF AF, CF kept (1)
    std
    pushf
    pop bx
    mov al, 1
    dec al                      ; ZF PF, CF kept (1)
    cli
    cld
    pushf
    pop si
    dec bp
    jnz again
    hlt
"""


def test_flags_after_cld_std_cli_over_a_lazy_record():
    want = {"interp": None, "tcg": None}
    for accel in want:
        got, _ = run(FLAGS_KEPT, accel)
        assert got[0] == "halt"
        regs = got[1]
        # SDM Vol. 1 §3.4.3: CF 0x1, PF 0x4, AF 0x10, ZF 0x40, SF 0x80, IF 0x200,
        # DF 0x400, OF 0x800
        assert regs[2] & 0xED5 == 0x055            # DX: ADD 0xFF + 1, CLD
        assert regs[3] & 0xED5 == 0xC91            # BX: INC 0x7F, STD
        assert regs[6] & 0xED5 == 0x045            # SI: DEC 1, CLI, CLD
        want[accel] = got
    assert want["interp"] == want["tcg"]
