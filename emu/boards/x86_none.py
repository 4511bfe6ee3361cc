"""The ``x86-none`` board: an x86 CPU and RAM, nothing else (QEMU's ``-M
none``, the empty machine, with a CPU in it).

This is the machine the single-instruction test vectors describe
(``emu conformance``): RAM from physical address 0 and no device at all --
a read from any port or MMIO address returns all ones and a write is
dropped (the buses' unassigned regions, :mod:`emu.devices.bus`), no
interrupt controller (HLT ends the run) and no timer.  The CPU is at reset
in real mode (SDM Vol. 3A §10.1.4, as :class:`X86State` makes it, with the
CPU model's fixed FLAGS bits); RAM is all zero (no interrupt vector table,
no BIOS).  An image is loaded where the ``pc`` board loads one, at
0x7C00 (the address kasou's loader assembles and links guests for), and
entered at 0000:entry.
"""

from __future__ import annotations

from ..isa.x86 import flags as F
from ..isa.x86.state import CS, Segment, X86State
from ..isa.x86.target import TARGET  # noqa: F401 -- the board's Target
from . import MemoryMap
from .no_devices import (attach, halt_message, inject_pending_interrupt,  # noqa: F401 -- its hooks
                         wait_for_interrupt)
from .pc import ELF_AT_SEGMENTS, LOAD_ADDR, load  # noqa: F401 -- images load as on pc

MEMORY_MAP = MemoryMap(ram_base=0, ram_size=16 << 20)


def build(machine, serial_input=None, serial_sink=None) -> None:
    """No devices to wire (no UART: serial input is never read, as with
    QEMU's ``-M none -serial stdio``); reset the CPU."""
    reset_cpu(machine)


def reset_cpu(machine) -> None:
    s = machine.cpu
    s.load(X86State())
    s.fl = machine.model.flags_set | F.FIXED1
    s.segs[CS] = Segment.real(0, code=True)
    s.rip = 0
