"""Recursive calls in a region: CALL/RET, PUSH/POP and a DEC between a CMP
and the next CMP.

DEC keeps CF (SDM Vol. 2A "DEC"), so the translator folds the carry of the
record before it into fl; when the next thing the code does is a CMP,
which defines every arithmetic flag, that fold is needed only where the
code may leave before the CMP -- the budget check at a jump back to a
section of the region.  The carry is then computed in that exit alone,
never on the path.  Every run here is compared with the interpreter,
register for register and flag for flag, at budgets that stop it at every
kind of place (the exactness of the exits that compute the fold)."""

import io
import re

import pytest

from emu import bench, loader
from emu.asm import assemble_file
from emu.machine import Machine

def rm_fib(stack: str, n: int = 12) -> str:
    """fib(n) in real mode, with the stack ``stack`` sets up."""
    return f"""
    xor ax, ax
    mov ss, ax
    {stack}
    mov cx, {n}
    call fib
    mov dx, 0x3f8
    out dx, al
    mov al, ah
    out dx, al
    mov al, 0
    out 0xf4, al
fib:
    cmp cx, 2
    jae recurse
leaf:
    mov ax, cx
    ret
recurse:
    push si
    dec cx
    call fib
back1:
    mov si, ax
    dec cx
    call fib
    add ax, si
    add cx, 2
    pop si
    ret
.space 36
top:
"""


def _rm(stack, n=12):
    return lambda: loader.assemble(rm_fib(stack, n), "<test>", 0x7C00)


GUESTS = {"rm": _rm("mov sp, 0x7000"),
          "pm": lambda: bench.guest_image("pm_fib", 12)}
# the stack's other cases: misaligned (the words go through struct after
# the full checks), and in the code's own 64-byte granules (every push
# there is a store into translated code: the interpreter's, exactly)
STACKS = {"odd_sp": _rm("mov sp, 0x7001"), "stack_by_code": _rm("mov sp, top", 8)}


def run(accel, image, limit=None, log=None, upper=None, hot_threshold=None):
    """``upper``: register -> a value for its upper 32 bits at the start;
    ``hot_threshold``: the translator's, when given."""
    m = Machine(accel=accel, log=log, log_flags=("out_asm",) if log is not None else ())
    if hot_threshold is not None:
        m.accel.hot_threshold = hot_threshold
    m.load_image(image.data, image.name, image.entry)
    for r, v in (upper or {}).items():
        m.cpu.regs[r] |= v << 32
    m.accel.state_changed()
    r = m.run(icount_limit=limit)
    return m, r


def region_paths(code: str) -> list:
    """The lines of the region functions in an out_asm log that run on a
    path (not the shared write-back of an exit's lazy flags)."""
    lines = code[code.index("def region_"):].splitlines()
    return [ln for ln in lines if not ln.lstrip().startswith(("if g ==", "elif g =="))]


@pytest.mark.parametrize("guest", GUESTS)
def test_the_carry_a_dec_keeps_is_computed_only_where_the_code_leaves(guest):
    log = io.StringIO()
    m, r = run("tcg", GUESTS[guest](), log=log)
    m.close()
    assert r.reason == "debug-exit"
    paths = region_paths(log.getvalue())
    assert any("W2[" in ln or "W4[" in ln for ln in paths)      # the pushes are there, aligned
    assert not [ln for ln in paths if "carry(" in ln]


def test_a_return_continues_in_the_code_of_its_return_site():
    """The RET of the leaf goes on, in the same region, into the code after
    the call (inlined at the RET, the popped address compared with it): no
    section of its own, no entry for the dispatcher, the whole recursion in
    a few calls of the region."""
    image = GUESTS["rm"]()
    m, r = run("tcg", image)
    try:
        assert r.reason == "debug-exit"
        back1 = image.symbols["back1"]
        assert [k for k in m.accel.tb_cache if k[1] == image.symbols["fib"]]
        assert not [k for k in m.accel.tb_cache if k[1] == back1]
        assert m.accel.stats()["lookups"] < 100
    finally:
        m.close()


def test_a_block_the_region_grew_to_take_in_is_inlined_where_it_jumps_there():
    """pm_fib(16): the leaf (after CMP ECX, 2 / JAE) had not run when the
    region was formed; it got hot later and the region was translated
    again with it, as an entry for the dispatcher -- but the region's own
    jump there (the JAE not taken) inlines it: the CMP's record flows on as
    expressions, no store of it, no hop through the sections."""
    image = bench.guest_image("pm_fib", 16)
    leaf = image.symbols["fib"] + 5           # CMP ECX, imm8 (3 bytes), JAE rel8 (2)
    log = io.StringIO()
    # (at this threshold the loop's region is formed before the leaf has run)
    m, r = run("tcg", image, log=log, hot_threshold=16)
    try:
        assert r.reason == "debug-exit" and m.accel.stats()["regions_grown"] >= 1
        assert [k for k in m.accel.tb_cache if k[1] == leaf]        # an entry
        code = log.getvalue()
        assert f"pc = {leaf};" not in code[code.rindex("def region_"):]
    finally:
        m.close()


@pytest.mark.parametrize("guest", {**GUESTS, **STACKS})
def test_recursion_matches_the_interpreter_at_every_kind_of_stop(guest):
    assert_matches_interpreter({**GUESTS, **STACKS}[guest](), (None, 997, 1498, 2001, 3335))


def assert_matches_interpreter(image, limits) -> None:
    """Runs of ``image`` on tcg stopped at each of ``limits`` (and 3 before
    its end) leave what the interpreter's leave: exit, icount, registers,
    flags, the first 64 KiB of RAM, the output."""
    mi, ri = run("interp", image)
    total = ri.icount
    mi.close()
    for limit in (*limits, total - 3):
        mi, ri = run("interp", image, limit)
        mt, rt = run("tcg", image, limit)
        try:
            assert (rt.reason, rt.icount) == (ri.reason, ri.icount), limit
            si, st = mi.cpu.snapshot(), mt.cpu.snapshot()
            assert st == si, (limit, {k: (si[k], st[k]) for k in si if si[k] != st[k]})
            assert mt.cpu.rflags == mi.cpu.rflags, limit
            assert mt.ram.read_bytes(0, 0x10000) == mi.ram.read_bytes(0, 0x10000), limit
            assert mt.serial_output() == mi.serial_output()
        finally:
            mi.close()
            mt.close()


@pytest.mark.parametrize("guest, aligned, limit", [("rm", ") & 1", "65534"),
                                                   ("pm", " & -16777213", "16777212")])
def test_aligned_stack_words_are_checked_once(guest, aligned, limit):
    """Real mode: SS's base is a multiple of 16 and its limit 0xFFFF, so an
    aligned word is within it; only a misaligned one (the odd_sp case
    above, and SP = 0xFFFF) is checked against the limit.  Protected mode,
    a flat SS and 16 MiB of RAM: one mask tests the alignment and the end
    of RAM at once."""
    log = io.StringIO()
    m, r = run("tcg", GUESTS[guest](), log=log)
    m.close()
    tests = [ln for ln in region_paths(log.getvalue()) if aligned in ln]
    assert tests and not [ln for ln in tests if limit in ln]


@pytest.mark.parametrize("guest", GUESTS)
def test_a_register_stepped_by_a_constant_keeps_no_copy_of_its_old_value(guest):
    """DEC ECX, ADD ECX, 2, PUSH, POP: the flag records that still need the
    old value (the CF a DEC keeps, the operand of an ADD) compute it from
    the new one where they are stored, in an exit; the path copies
    nothing."""
    log = io.StringIO()
    m, r = run("tcg", GUESTS[guest](), log=log)
    m.close()
    assert not [ln for ln in region_paths(log.getvalue()) if re.match(r"\s*o\d+ = r\d+$", ln)]


def test_32_bit_registers_are_read_without_masks():
    log = io.StringIO()
    m, r = run("tcg", GUESTS["pm"](), log=log)
    m.close()
    paths = region_paths(log.getvalue())
    # the guard: ECX's local is among the registers checked to fit 32 bits
    guards = re.findall(r"\(?((?:r\d+ \| )*r\d+)\)? > 4294967295", "\n".join(paths))
    assert "r1" in " | ".join(guards).split(" | ")
    assert not [ln for ln in paths if re.search(r"\br\d+ & 4294967295\b", ln)]


PM_SUM = """
.include "flat32.inc"
main32:
    mov ecx, 3000
    xor eax, eax
again:
    mov edx, edi
    add eax, edx
    dec ecx
    jnz again
    jmp pm_done
.include "pm_out.inc"
"""


@pytest.mark.parametrize("limit", [None, 2001])
def test_a_register_with_its_upper_half_set_fails_the_guard_exactly(limit):
    """EDI comes to the loop's region with its upper half set (the region
    reads it as 32 bits, and never writes it): the guard fails, the region
    is translated again with masks, and EBX keeps its upper half, as on the
    interpreter."""
    image = assemble_file(PM_SUM, bench.guest_path("pm_fib"))
    upper = {7: 0xABCD}
    mi, ri = run("interp", image, limit, upper=upper)
    mt, rt = run("tcg", image, limit, upper=upper)
    try:
        assert (rt.reason, rt.icount) == (ri.reason, ri.icount)
        assert mt.cpu.regs[:8] == mi.cpu.regs[:8]
        assert mt.cpu.regs[7] >> 32 == 0xABCD
        assert mt.accel.stats()["guard_fails"] >= 1
        assert mt.serial_output() == mi.serial_output()
    finally:
        mi.close()
        mt.close()
