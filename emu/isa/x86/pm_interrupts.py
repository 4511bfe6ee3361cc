"""Protected-mode and long-mode interrupt delivery through the IDT (SDM Vol. 3A §6.10-6.14).

Not modelled yet: kasou stops with an INTERNAL_ERROR naming the vector
rather than mis-running the guest.  (Listed by ``emu coverage``.)
"""

from ..ops import Unsupported

GAPS = ["protected-mode/long-mode interrupt and exception delivery through the IDT"]


def deliver_protected(ops, vector: int, return_ip: int, error_code=None) -> None:
    raise Unsupported(f"delivery of vector {vector} in protected mode is not modelled yet")


def iret_protected(ops, i) -> None:
    raise Unsupported("IRET in protected mode is not modelled yet")
