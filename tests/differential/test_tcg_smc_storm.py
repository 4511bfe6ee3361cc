"""Code that keeps changing is interpreted, not translated again at every
store (emu/accel/tcg/tb_cache.py: ``SMC_DEMOTE_AFTER``, ``SMC_PROBATION``).

An SMC storm (tests/guests/x86/smc_storm.S: each iteration stores into the
ADD it runs next) translates a bounded number of blocks, however many
iterations run, and ends exactly as on the interpreter in every tier.  Code
that stops changing is translated again after its probation.
"""

import os

import pytest

from emu.accel.tcg import SMC_DEMOTE_AFTER, SMC_PROBATION
from emu.loader import assemble

from .test_tcg import asm, same

GUESTS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "guests", "x86")


def storm_image():
    with open(os.path.join(GUESTS, "smc_storm.S")) as f:
        return assemble(f.read(), "smc_storm.S").data


@pytest.mark.parametrize("tier", ["eager", "tiered", "hot2"])
def test_smc_storm_translates_a_bounded_number_of_blocks(tier):
    mt, _ = same(storm_image(), tier=tier)
    s = mt.accel.stats()
    assert s["smc_demoted_pages"] == 1
    # translations of the storm's page stop once it is demoted: the loop's
    # blocks (one or two) once per invalidation before that, 3,000 iterations
    # or not
    assert s["blocks_translated"] <= 2 * SMC_DEMOTE_AFTER + 2, s
    assert s["invalidations"] <= 2 * SMC_DEMOTE_AFTER, s
    assert s["demoted_lookups"] > 2000, s


CALM_AFTER_STORM = """
    xor ax, ax
    mov ds, ax
    xor bx, bx
    mov cx, 100
again:
    mov byte ptr [patch + 2], cl
patch:
    add bx, 0x7f
    loop again
    mov cx, 20000
calm:
    add bx, cx
    loop calm
    mov al, bl
    out 0xe9, al
    mov al, bh
    out 0xe9, al
    mov al, 0
    out 0xf4, al
"""


def test_code_that_stops_changing_is_translated_again():
    mt, _ = same(asm(CALM_AFTER_STORM), tier="tiered")
    s = mt.accel.stats()
    assert s["smc_demoted_pages"] == 1
    # the calm loop (40,000 instructions) is interpreted during its
    # probation only, then runs translated
    assert SMC_PROBATION <= s["demoted_lookups"] <= SMC_PROBATION + 100, s
    assert s["interp_insns"] < 2 * SMC_PROBATION + 1000, s
