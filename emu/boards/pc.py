"""The ``pc`` board: an x86 PC as a BIOS leaves it for a boot sector.

Memory map and wiring (QEMU's ``pc`` machine where it has the device):

* RAM from physical address 0 (``-m``, default 16 MiB).
* The image (a flat binary or boot sector) loaded at 0x7C00 and entered at
  0000:7C00 in real mode with DL = 0x80 (the boot drive), SS:SP = 0000:7C00,
  FLAGS = 0x0002 (interrupts disabled).
* The interrupt vector table at 0: every vector points at an IRET at
  F000:FF53, where the PC BIOS keeps its dummy handler, so a stray INT
  returns instead of running off into zeroed memory (needs >= 1 MiB RAM).
* COM1: 16550 UART at 0x3F8, IRQ 4, left by the "BIOS" at 9600 8N1.
* isa-debug-exit at 0xF4 (iosize 4): writing v ends the run with status
  (v << 1) | 1, as QEMU's ``-device isa-debug-exit,iobase=0xf4,iosize=4``.
* isa-debugcon at 0xE9 (QEMU's ``-debugcon``).
* 8259 PIC pair at 0x20/0xA0, cascaded on IRQ 2.
"""

from __future__ import annotations

from ..devices.debug_exit import IsaDebugExit
from ..devices.debugcon import DebugCon
from ..devices.device import IrqLine
from ..devices.i8259 import I8259Pair
from ..devices.uart16550 import Uart16550
from ..isa.x86 import flags as F
from ..isa.x86.models import get_model
from ..isa.x86.state import CS, SS, Segment, X86State

ARCH = "x86"
LOAD_ADDR = 0x7C00
DUMMY_IRET = (0xF000, 0xFF53)


def build(machine, cpu=None, serial_input=None, serial_sink=None) -> None:
    machine.arch = ARCH
    machine.model = get_model(cpu or "max")
    machine.cpu = X86State()
    machine.serial_log = bytearray()

    def sink(data: bytes) -> None:
        machine.serial_log += data
        if serial_sink is not None:
            serial_sink(data)

    pic = I8259Pair(intr=IrqLine(lambda level: _intr_changed(machine, level)))
    uart = Uart16550(irq=pic.irq_line(4), source=serial_input, sink=sink)
    debug_exit = IsaDebugExit(iosize=4)
    debugcon = DebugCon(sink=sink)
    machine.pic = pic
    machine.ports.map(0x3F8, 8, uart)
    machine.ports.map(0xF4, 4, debug_exit)
    machine.ports.map(0xE9, 1, debugcon)
    machine.ports.map(0x20, 2, pic.master)
    machine.ports.map(0xA0, 2, pic.slave)
    machine.devices.update({"serial0": uart, "isa-debug-exit": debug_exit,
                            "debugcon": debugcon, "pic": pic})
    reset_cpu(machine)


def reset_cpu(machine) -> None:
    s = machine.cpu
    fresh = X86State()
    s.load(fresh)
    model = machine.model
    s.fl = model.flags_set | F.FIXED1
    s.segs[CS] = Segment.real(0, code=True)
    s.segs[SS] = Segment.real(0)
    s.rip = LOAD_ADDR
    s.regs[4] = LOAD_ADDR
    s.regs[2] = 0x80
    ram = machine.ram
    if ram.size >= 0x100000:
        seg, off = DUMMY_IRET
        ram.load((seg << 4) + off, b"\xcf")
        ivt = bytearray()
        for _ in range(256):
            ivt += off.to_bytes(2, "little") + seg.to_bytes(2, "little")
        ram.load(0, bytes(ivt))


def load(machine, data: bytes, name: str) -> None:
    if LOAD_ADDR + len(data) > machine.ram.size:
        raise ValueError(f"{name}: image of {len(data)} bytes does not fit in RAM at 0x{LOAD_ADDR:x} "
                         f"(RAM is {machine.ram.size} bytes; use a larger -m)")
    machine.ram.load(LOAD_ADDR, data)


def _intr_changed(machine, level: bool) -> None:
    accel = getattr(machine, "accel", None)
    if accel is not None:
        accel.irq_line = level


def attach(machine) -> None:
    """Connect the PIC to the engine once it exists (INTR level and INTA)."""
    machine.accel.irq_line = machine.pic.intr.level
    machine.accel.irq_ack = machine.pic.acknowledge


def wait_for_interrupt(machine) -> bool:
    """HLT: True if an interrupt will wake the CPU, False if it never can."""
    s = machine.cpu
    machine.accel.sync_state()
    if not s.rflags & F.IF:
        return False
    machine.devices["serial0"].poll()
    return bool(machine.pic.intr.level)


def inject_pending_interrupt(machine) -> None:
    pass


def halt_message(machine) -> str:
    s = machine.cpu
    if not s.rflags & F.IF:
        return "guest halted (HLT with interrupts disabled)"
    return "guest halted with interrupts enabled, and no device can raise one"
