"""x86 paging: linear -> physical (SDM Vol. 3A §4).  Not modelled yet.

A guest that sets CR0.PG stops with an INTERNAL_ERROR naming the gap
(listed by ``emu coverage``) rather than running with the wrong addresses.
"""

from ..ops import Unsupported

GAPS = ["paging (CR0.PG): 32-bit, PAE and 4-level page tables"]


def make_translator(ops):
    raise Unsupported("paging (CR0.PG) is not modelled yet")
