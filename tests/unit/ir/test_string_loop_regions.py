"""String loops in a real-mode region that reloads its segments and runs a
REP inside it (rm_strings' shape): each pass of an outer loop loads ES,
fills a buffer with REP STOSB, reloads DS and ES and runs a LODSB / ADD /
STOSB / DEC CX / JNZ loop over another.

The inner loop stays counted by ``for left in range(...)`` although the
outer loop's path charges the REP's iterations to the budget
(``RegionCodegen.charge``: only a path back through the charge is left
uncounted), and ES, reloaded with constant selectors whose 64 KiB hold no
code, keeps its stores free of the per-store code check
(``X86Memory.remapped_mode``): each reload tests the new base.  A segment
reloaded over the code's 64 KiB keeps the check instead.  Stopped by the
budget anywhere -- in the REP, in the inner loop, between -- the state is
the interpreter's."""

import pytest

from tests.differential.translated import stopped_at, tcg_regions

STRINGS = """
    xor ax, ax
    mov ss, ax
    mov sp, 0x7c00
    mov ds, ax
    xor dx, dx
pass:
    mov ax, 0x2000
    mov es, ax
    xor di, di
    mov al, dl
    mov cx, 300
    rep stosb
    mov ax, 0x2000
    mov ds, ax
    mov ax, ES_DATA
    mov es, ax
    xor si, si
    mov di, dx
    mov cx, 200
mix:
    lodsb
    add al, es:[di]
    stosb
    dec cx
    jnz mix
    inc dx
    cmp dx, 40
    jb pass
    xor ax, ax
    mov ds, ax
    mov es, ax
    hlt
"""


def runner(es_data: int):
    """run(accel, limit, log=None): STRINGS with its second ES (the mixed
    buffer's segment) ``es_data``, stopped after ``limit`` instructions,
    the mixed buffer dumped."""
    src = STRINGS.replace("ES_DATA", hex(es_data))

    def run(accel, limit, log=None):
        return stopped_at(src, accel, 1 << 20, limit, ((es_data << 4) + 0x100, 240), log)
    return run


@pytest.mark.parametrize("limit", [320, 900, 1200, 1500, 2240, 2241, 2242, 5000, 17_777,
                                   30_003, 44_000, 100_000])
def test_stopped_anywhere_the_state_is_the_interpreters(limit):
    run = runner(0x1000)
    assert run("tcg", limit) == run("interp", limit)


def nest_of(run):
    """The last region (the whole nest) of a run to its end, checked
    against the interpreter's."""
    want = run("interp", 100_000)
    assert want[0] == "halt"
    assert run("tcg", 100_000) == want
    nest = tcg_regions(run, 100_000)[-1]
    assert "rep_move_translated" in nest and "load_seg_real" in nest
    return nest


def test_the_inner_loop_is_counted_with_a_rep_in_the_outer_loop():
    assert "for left in range(left, " in nest_of(runner(0x1000))


def test_a_reloaded_data_segment_skips_the_code_check_of_its_stores():
    nest = nest_of(runner(0x1000))
    # the reloads test their new base for code instead of each store
    assert "CP.find" in nest and "CB[" not in nest, nest


def test_a_segment_reloaded_over_the_code_checks_its_stores():
    # ES = 0x0100: its 64 KiB reach the code at 0000:7C00
    assert "CB[" in nest_of(runner(0x0100))
