"""Flag bits a region cannot change, read as constants under its entry guard.

A string instruction steps rSI/rDI by +size or -size as DF says (SDM Vol. 1
§3.4.3.2, Vol. 2B "LODS", "STOS").  In a region whose code changes no flag
but the arithmetic ones, DF is the one it found at its entry: its reads of
DF are constants, and the entry guard checks DF is still that.  When DF
changes between two runs of the region, the guard fails and the region is
translated again without the constant; a region whose own code sets DF
(STD, CLD) reads it as the code runs.  Either way the results are the
interpreter's."""

import io

from tests.differential.translated import machine, regions_in

COPY = """
    xor ax, ax
    mov ds, ax
    mov es, ax
    mov bp, 2
    cld
again:
    mov si, 0x1000
    mov di, 0x2000
    mov cx, 60
copy:
    lodsb
    add al, 3
    stosb
    loop copy
    std                         ; the second pass runs the same loop backwards
    dec bp
    jnz again
    hlt
"""

TOGGLE = """
    xor ax, ax
    mov ds, ax
    mov es, ax
    mov si, 0x1000
    mov di, 0x2000
    mov cx, 60
flip:
    cld
    jmp fwd                     ; each block reads DF as it found it
fwd:
    lodsb                       ; forwards
    std
    jmp back
back:
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
        return (r.reason, tuple(m.cpu.regs[:8]), m.cpu.rflags, m.ram.read_bytes(0x1F00, 0x200)), \
            m.accel.stats()


def test_df_changed_between_runs_fails_the_guard_and_the_results_are_the_interpreters():
    want, _ = run(COPY, "interp")
    assert want[0] == "halt"
    got, stats = run(COPY, "tcg")
    assert got == want
    assert stats["guard_fails"] >= 1


def test_a_region_that_sets_df_reads_it_as_it_runs():
    want, _ = run(TOGGLE, "interp")
    got, _ = run(TOGGLE, "tcg")
    assert got == want


def test_a_region_that_cannot_change_df_steps_by_a_constant():
    log = io.StringIO()
    run(COPY, "tcg", log)
    regions = regions_in(log)
    assert regions
    # the first translation (DF clear) and the one after the guard failed
    assert "S.fl & 1024 != 0" in regions[0] and "& 1024" not in regions[0].split("S.fl & 1024")[1]
    assert "S.fl & 1024" not in regions[-1] and "& 1024" in regions[-1]
