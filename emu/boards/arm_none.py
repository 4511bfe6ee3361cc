"""The ``arm-none`` board: an Arm CPU and a recorded memory, nothing else
(QEMU's ``-M none`` with an Arm CPU in it) -- the machine the ARM7TDMI
single-instruction test vectors describe (``emu conformance``,
``/work/shared/conformance/README.md`` section 3).

Those vectors give no memory image: they give the bus transactions the
CPU made.  So the whole 32-bit address space is one device, a
:class:`~emu.devices.recorded.RecordedMemory` ("memory"): a read returns
the value the recording holds for it (the instruction words at the
instruction's address, the data the instruction read), a write is kept
for the judge.  Every access reaches it as an MMIO access the Machine
serves (an instruction fetch outside RAM reads the bus directly, as on
every board).  The Machine's RAM (4 KiB) lies at 4 GiB, beyond what the
CPU's 32-bit addresses reach: nothing the CPU does lands in it.

No interrupt controller (WFI ends the run), no timer, no UART, no
semihosting.  The CPU is as out of reset (ARM ARM B1.9.10: Supervisor
mode, ARM state, IRQ and FIQ masked) at address 0.  Programs are not
loaded here: there is no RAM to load them into.
"""

from __future__ import annotations

from ..devices.recorded import RecordedMemory
from . import MemoryMap, Region
from .no_devices import (attach, halt_message, inject_pending_interrupt,  # noqa: F401 -- its hooks
                         wait_for_interrupt)

TARGET = "arm"              # the Target's name in emu.isa's registry
ADDRESS_SPACE = 1 << 32
MEMORY_MAP = MemoryMap(ram_base=ADDRESS_SPACE, ram_size=4 << 10,
                       mmio=(Region("recorded-memory", 0, ADDRESS_SPACE),))
LOAD_ADDR = 0
ELF_AT_SEGMENTS = True
#: CPSR out of reset: SVC mode (0x13), A (0x100), I (0x80), F (0x40) set
RESET_CPSR = 0x1D3


def build(machine, serial_input=None, serial_sink=None) -> None:
    """Map the recorded memory over the address space; reset the CPU."""
    memory = RecordedMemory("memory")
    machine.mmio.map(0, ADDRESS_SPACE, memory)
    machine.devices["memory"] = memory
    reset_cpu(machine)


def reset_cpu(machine) -> None:
    s = machine.cpu
    s.load(machine.target.new_state())    # in place: the engines hold it
    s.set_cpsr(RESET_CPSR)
    s.pc = 0


def load(machine, data: bytes, name: str, entry: int | None = None,
         base: int | None = None) -> None:
    raise ValueError(f"{name}: machine 'arm-none' loads no program (its memory is a "
                     "recording, for the test vectors); expected -M virt")
