"""The ``pc`` board: an x86 PC as a BIOS leaves it for a boot sector.

Memory map and wiring (QEMU's ``pc`` machine where it has the device):

* RAM from physical address 0 (``-m``, default 16 MiB); no MMIO region (the
  devices below are on the port bus).
* The image (a flat binary, boot sector or ELF executable) loaded at 0x7C00
  and entered at its entry point (0x7C00 unless an ELF says otherwise),
  CS = 0, in real mode with DL = 0x80 (the boot drive), SS:SP = 0000:7C00,
  FLAGS = 0x0002 (interrupts disabled).
* The interrupt vector table at 0: every vector points at an IRET at
  F000:FF53, where the PC BIOS keeps its dummy handler, so a stray INT
  returns instead of running off into zeroed memory (needs >= 1 MiB RAM).
* COM1: 16550 UART at 0x3F8, IRQ 4, left by the "BIOS" at 9600 8N1.
* isa-debug-exit at 0xF4 (iosize 4): writing v ends the run with status
  (v << 1) | 1, as QEMU's ``-device isa-debug-exit,iobase=0xf4,iosize=4``.
* isa-debugcon at 0xE9 (QEMU's ``-debugcon``).
* 8259 PIC pair at 0x20/0xA0, cascaded on IRQ 2, left programmed as a BIOS
  leaves it: vector bases 0x08 (IRQ 0-7) and 0x70 (IRQ 8-15), edge
  triggered, 8086 mode -- but with every IRQ masked except the cascade
  (master IMR 0xFB, slave IMR 0xFF).  A guest unmasks the lines it handles
  (``mov al, 0xFE; out 0x21, al`` for the timer) or re-initialises the pair
  with ICW1-4.
* virtio-console at 0xC000-0xC01F, IRQ 11 (vector 0x73 as the slave is
  left): a legacy virtio console (``emu/devices/virtio_console.py``),
  always present; it occupies only its ports and its IRQ line, and does
  nothing until a driver sets it up.  A real PC finds such a device through
  PCI configuration space (vendor 0x1AF4, device 0x1003: its I/O BAR 0 and
  its interrupt line); this board has no PCI bus, so the base and the IRQ
  are fixed, as QEMU's ``-device virtio-serial-pci`` typically gets them.
  Its transmitq's output goes where COM1's does.
* 8254 PIT at 0x40-0x43, counter 0 on IRQ 0, in its reset state: every
  counter in mode 3 with count 65536, so counter 0 ticks at 18.2 Hz from
  power-on (as the PC BIOS also programs it).  Its time is the Machine's
  guest clock (``-icount``: instruction count on interp/tcg/unicorn, real
  time on KVM); the Machine's run loop raises IRQ 0 at each deadline.

Why IRQ 0 is masked (the deliberate difference from QEMU + SeaBIOS, which
leave IRQ 0 unmasked at vector 8 with SeaBIOS's handler behind it): kasou
has no BIOS code, and the IVT's dummy IRET sends no EOI.  With IRQ 0
unmasked, a boot sector that executes STI without installing a handler
would take one timer interrupt into the IRET stub, leave IRQ 0 in service
for ever, and so block every lower-priority IRQ (the UART's IRQ 4) -- and
one that ends with ``sti; hlt`` would sleep through timer ticks instead of
halting.  Masked, STI alone changes nothing: HLT still ends the run when no
unmasked device can interrupt.

Polling: the UART's input is pulled (``poll``) whenever a timer fires and
at every HLT, so an interrupt-driven guest hears typed input without
reading the UART's registers in a loop.
"""

from __future__ import annotations

from ..devices.debug_exit import IsaDebugExit
from ..devices.debugcon import DebugCon
from ..devices.device import IrqLine
from ..devices.i8254 import I8254
from ..devices.i8259 import I8259Pair
from ..devices.uart16550 import Uart16550
from ..devices.virtio_console import REGION_SIZE as VIRTIO_REGION_SIZE
from ..devices.virtio_console import VirtioConsole
from ..isa.x86 import flags as F
from ..isa.x86.state import CS, SS, Segment, X86State
from ..isa.x86.target import TARGET  # noqa: F401 -- the board's Target
from . import MemoryMap
from .console import console_sink

MEMORY_MAP = MemoryMap(ram_base=0, ram_size=16 << 20)
LOAD_ADDR = 0x7C00
#: an ELF executable must be linked to load at LOAD_ADDR
ELF_AT_SEGMENTS = False
DUMMY_IRET = (0xF000, 0xFF53)
PIC_MASTER_BASE, PIC_SLAVE_BASE = 0x08, 0x70
PIC_MASTER_MASK, PIC_SLAVE_MASK = 0xFB, 0xFF    # all masked but the cascade (IRQ 2)
PIT_IRQ = 0
VIRTIO_BASE, VIRTIO_IRQ = 0xC000, 11


def build(machine, serial_input=None, serial_sink=None) -> None:
    """Wire the devices into ``machine`` (whose ``cpu`` and ``model`` the
    Machine made from ``TARGET``) and reset the CPU."""
    sink = console_sink(machine, serial_sink)
    pic = I8259Pair(intr=IrqLine(lambda level: _intr_changed(machine, level)))
    uart = Uart16550(irq=pic.irq_line(4), source=serial_input, sink=sink)
    debug_exit = IsaDebugExit(iosize=4)
    debugcon = DebugCon(sink=sink)
    pit = I8254(machine.clock, irq0=pic.irq_line(PIT_IRQ))
    virtio = VirtioConsole(machine.ram, irq=pic.irq_line(VIRTIO_IRQ), sink=sink)
    # after the PIT: ICW1 notes IRQ 0's level without latching it, so the
    # first request is the first tick, not power-on
    pic.bios_init(PIC_MASTER_BASE, PIC_SLAVE_BASE, PIC_MASTER_MASK, PIC_SLAVE_MASK)
    machine.timers.append(pit)
    machine.ports.map(0x3F8, 8, uart)
    machine.ports.map(0xF4, 4, debug_exit)
    machine.ports.map(0xE9, 1, debugcon)
    machine.ports.map(0x20, 2, pic.master)
    machine.ports.map(0xA0, 2, pic.slave)
    machine.ports.map(0x40, 4, pit)
    machine.ports.map(VIRTIO_BASE, VIRTIO_REGION_SIZE, virtio)
    machine.devices.update({"serial0": uart, "isa-debug-exit": debug_exit,
                            "debugcon": debugcon, "pic": pic, "pit": pit,
                            "virtio-console": virtio})
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


def load(machine, data: bytes, name: str, entry: int | None = None,
         base: int | None = None) -> None:
    """The image at LOAD_ADDR, entered at ``entry`` (an address inside it;
    None: LOAD_ADDR) with CS = 0, so the entry must be below 64 KiB; an
    image that asks for another ``base`` is refused."""
    if base is not None and base != LOAD_ADDR:
        raise ValueError(f"{name}: loads at 0x{base:x}; this board loads an image at "
                         f"0x{LOAD_ADDR:x} (link with -Ttext=0x{LOAD_ADDR:x})")
    if LOAD_ADDR + len(data) > machine.ram.size:
        raise ValueError(f"{name}: image of {len(data)} bytes does not fit in RAM at 0x{LOAD_ADDR:x} "
                         f"(RAM is {machine.ram.size} bytes; use a larger -m)")
    if entry is None:
        entry = LOAD_ADDR
    if not (LOAD_ADDR <= entry < max(LOAD_ADDR + len(data), LOAD_ADDR + 1) and entry <= 0xFFFF):
        raise ValueError(f"{name}: entry point 0x{entry:x} is outside the image or above 0xFFFF "
                         f"(this board enters the image loaded at 0x{LOAD_ADDR:x} at 0000:entry)")
    machine.ram.load(LOAD_ADDR, data)
    machine.cpu.rip = entry


def _intr_changed(machine, level: bool) -> None:
    accel = machine.accel
    if accel is not None:
        accel.irq_line = level


def attach(machine) -> None:
    """Connect the PIC to the engine once it exists (INTR level and INTA)."""
    pic = machine.devices["pic"]
    machine.accel.irq_line = pic.intr.level
    machine.accel.irq_ack = lambda: machine.acknowledge_interrupt(pic.acknowledge)


def poll_devices(machine) -> None:
    """Called by the Machine when a timer fires: pull the UART's input."""
    machine.devices["serial0"].poll()


def wait_for_interrupt(machine) -> bool:
    """HLT: True if an interrupt will wake the CPU, False if it never can.

    With IF set and nothing pending, guest time moves on to the next timer
    deadline (skipped in icount mode, slept through on KVM, see
    :meth:`Machine.idle_until_next_timer`) -- unless IRQ 0 is masked, when
    the timer cannot wake the CPU.  One deadline is enough: its edge
    latches IRQ 0's request, and if that does not raise INTR (IRQ 0 still
    in service, no EOI) no later tick will either."""
    s = machine.cpu
    machine.accel.sync_state()
    if not s.rflags & F.IF:
        return False
    pic = machine.devices["pic"]
    machine.devices["serial0"].poll()
    if pic.intr.level:
        return True
    if pic.master.imr & (1 << PIT_IRQ):
        return False

    def woken() -> bool:            # real time: typed input may come first
        machine.devices["serial0"].poll()
        return bool(pic.intr.level)
    if not machine.idle_until_next_timer(woken):
        return False
    return bool(pic.intr.level)


def inject_pending_interrupt(machine) -> None:
    pass


def halt_message(machine) -> str:
    s = machine.cpu
    if not s.rflags & F.IF:
        return "guest halted (HLT with interrupts disabled)"
    return "guest halted with interrupts enabled, and no device can raise one"
