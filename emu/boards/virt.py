"""The ``virt`` board: QEMU's ``-M virt`` for a 32-bit Arm CPU (cortex-a15), as
a bare-metal program sees it.

Memory map (QEMU ``hw/arm/virt.c``, ``base_memmap``; the parts kasou has):

* 0x08000000 GIC distributor, 0x08010000 GIC CPU interface (64 KiB each):
  a GICv2 with one CPU (:mod:`emu.devices.gic`); its output is the CPU's
  IRQ input (nIRQ), FIQ is not used.
* 0x09000000 PL011 UART (4 KiB, :mod:`emu.devices.pl011`) on SPI 1,
  interrupt ID 33, level-sensitive, as on QEMU's virt.
* 0x40000000 RAM (``-m``, default 128 MiB as QEMU's virt).

Not modelled: the flash at 0, the RTC, fw_cfg, virtio-mmio, PCIe, the
generic timer, PSCI and the device tree (an access there is an unassigned
MMIO access: reads all ones, writes dropped).

``-kernel`` as QEMU's ``arm_load_kernel`` for a bare-metal image:

* an ELF executable (EM_ARM) is loaded by its segments, at their physical
  addresses (which must lie in RAM), and entered at its entry point;
* anything else is a raw image at 0x40010000 (RAM + 0x10000, QEMU's
  ``KERNEL_LOAD_ADDR``), entered at its first byte.  (QEMU takes a raw
  image for a Linux kernel and enters it through a boot stub with r0 = 0,
  r1 = 0xFFFFFFFF and r2 = the device tree's address; kasou has no device
  tree and enters it with r0-r2 = 0.)

The CPU is entered as out of reset (ARM ARM B1.9.10): Supervisor mode, ARM
state, asynchronous aborts, IRQ and FIQ masked (CPSR = 0x1D3), every
other register 0.

Semihosting (``-semihosting``, off by default as in QEMU): the Machine's
semihosting service (:mod:`emu.devices.semihosting`) writes to the same
console as the UART and reads the same input (QEMU multiplexes both on
stdio with ``-nographic``); SYS_HEAPINFO describes the RAM the image left
free.

WFI (an HLT exit) wakes when the GIC signals an interrupt (whatever CPSR.I
says, B1.8.13); with nothing pending and no device that can interrupt
later (kasou's virt has no timer), it ends the run.  The UART's input is
pulled at every WFI.
"""

from __future__ import annotations

from ..devices.device import IrqLine
from ..devices.gic import Gic
from ..devices.pl011 import PL011
from ..devices.semihosting import Semihosting
from ..devices.tape import InputTape
from . import MemoryMap, Region
from .console import console_sink

TARGET = "arm"              # the Target's name in emu.isa's registry
RAM_BASE = 0x40000000
GIC_DIST, GIC_CPU, GIC_SIZE = 0x08000000, 0x08010000, 0x10000
UART_BASE, UART_SIZE, UART_SPI = 0x09000000, 0x1000, 1
MEMORY_MAP = MemoryMap(ram_base=RAM_BASE, ram_size=128 << 20,
                       mmio=(Region("gic-distributor", GIC_DIST, GIC_SIZE),
                             Region("gic-cpu", GIC_CPU, GIC_SIZE),
                             Region("pl011", UART_BASE, UART_SIZE)))
#: a raw image's load address and entry (QEMU: loader_start + KERNEL_LOAD_ADDR)
LOAD_ADDR = RAM_BASE + 0x10000
#: an ELF executable is loaded where its segments say (in RAM)
ELF_AT_SEGMENTS = True
#: CPSR out of reset: SVC mode (0x13), A (0x100), I (0x80), F (0x40) set
RESET_CPSR = 0x1D3


def build(machine, serial_input=None, serial_sink=None) -> None:
    """Wire the devices into ``machine`` and reset the CPU."""
    sink = console_sink(machine, serial_sink)
    tape = InputTape.of(serial_input)
    gic = Gic(irq=_cpu_irq_line(machine))
    uart = PL011(irq=gic.irq_line(UART_SPI), source=tape, sink=sink)
    machine.mmio.map(GIC_DIST, GIC_SIZE, gic.distributor)
    machine.mmio.map(GIC_CPU, GIC_SIZE, gic.cpu_interface)
    machine.mmio.map(UART_BASE, UART_SIZE, uart)
    machine.devices.update({"serial0": uart, "gic": gic.distributor, "gic-cpu": gic.cpu_interface})
    if machine.semihosting_wanted:
        semi = Semihosting(machine.ram, machine.clock.now_ns, sink=sink, source=tape)
        machine.semihosting = semi
        machine.devices["semihosting"] = semi
    reset_cpu(machine)


def _cpu_irq_line(machine) -> IrqLine:
    """The CPU's IRQ input: the engine's ``irq_line`` follows it."""
    def changed(level: bool) -> None:
        if machine.accel is not None:
            machine.accel.irq_line = level
    return IrqLine(changed)


def reset_cpu(machine) -> None:
    """The CPU as out of reset, at LOAD_ADDR."""
    s = machine.cpu
    # a fresh state's fields, in place: the engines hold this object
    s.load(machine.target.new_state())
    s.set_cpsr(RESET_CPSR)
    s.pc = LOAD_ADDR


def load(machine, data: bytes, name: str, entry: int | None = None,
         base: int | None = None) -> None:
    """The image at ``base`` (an ELF's first segment; None: a raw image, at
    LOAD_ADDR), entered at ``entry`` (None: its first byte)."""
    at = LOAD_ADDR if base is None else base
    ram = machine.ram
    if not ram.contains(at, max(len(data), 1)):
        raise ValueError(f"{name}: image of {len(data)} bytes at 0x{at:x} does not fit in RAM "
                         f"0x{ram.base:x}-0x{ram.base + ram.size - 1:x} (link it into RAM, "
                         "or use a larger -m)")
    if entry is None:
        entry = at
    if not at <= entry < at + max(len(data), 1):
        raise ValueError(f"{name}: entry point 0x{entry:x} is outside the image "
                         f"(0x{at:x}-0x{at + len(data) - 1:x})")
    ram.load(at, data)
    machine.cpu.pc = entry
    if machine.semihosting is not None:
        machine.semihosting.set_image(at, at + len(data))


#: what ``irq_ack`` hands the engine: the CPU's IRQ exception (its vector
#: table offset, 0x18); the Arm CPU has no acknowledge cycle that reads an
#: interrupt number -- the guest reads it from GICC_IAR in its handler
IRQ_VECTOR = 0x18


def attach(machine) -> None:
    """Connect the GIC's output to the engine once it exists; ``irq_ack``
    says "take the IRQ exception" while the GIC signals one."""
    gic = machine.devices["gic"].gic
    machine.accel.irq_line = gic.irq.level
    machine.accel.irq_ack = lambda: machine.acknowledge_interrupt(
        lambda: IRQ_VECTOR if gic.irq.level else None)


def poll_devices(machine) -> None:
    """Called by the Machine when a timer fires: pull the UART's input."""
    machine.devices["serial0"].poll()


def wait_for_interrupt(machine) -> bool:
    """WFI: True if an interrupt is signalled now (input pulled first)."""
    machine.devices["serial0"].poll()
    return bool(machine.devices["gic"].gic.irq.level)


def inject_pending_interrupt(machine) -> None:
    pass


def halt_message(machine) -> str:
    return "guest waiting for an interrupt (WFI), and no device can raise one"
