"""The 8259A programmable interrupt controller, and the PC's cascaded pair.

Model: Intel *8259A Programmable Interrupt Controller* datasheet (order no.
231468): "Interrupt Sequence" (INTA cycles), "Initialization Command Words"
(ICW1-ICW4, Figure 6/7), "Operation Command Words" (OCW1-OCW3, Figure 8),
"End of Interrupt", "Automatic Rotation", "Special Mask Mode", "Poll
Command", "Reading the 8259A Status", "Edge and Level Triggered Modes"
(spurious IR7), "The Special Fully Nest Mode", "Cascade Mode".  Where the
datasheet leaves room, behaviour follows QEMU ``hw/intc/i8259.c``.

One chip (``I8259``) decodes two bytes: offset 0 (A0 = 0: ICW1, OCW2, OCW3;
reads IRR/ISR or the poll word) and offset 1 (A0 = 1: ICW2-ICW4, OCW1 =
IMR; reads IMR).  ``I8259Pair`` is the PC/AT arrangement: a master (board
maps ``pair.master`` at 0x20) whose IR2 is the slave's INTR output, and a
slave (``pair.slave`` at 0xA0).  Inputs 0-15 arrive through
``set_irq(n, level)``; the master's INTR is an ``IrqLine`` to the CPU; the
CPU's interrupt-acknowledge cycle is ``acknowledge()``, which returns the
vector (8086 mode: ICW2 base | IR number).

Priority: IR0 highest, IR7 lowest, shifted by rotation (``priority_add``
is the IR number that currently has the highest priority).  An interrupt
is signalled when the highest unmasked request in IRR has higher priority
than the highest bit in ISR (fully nested mode); in special mask mode the
masked ISR bits do not count; in special fully nested mode the master
ignores its cascade input's ISR bit, so a higher-priority slave request
can nest.

Triggering: edge mode (ICW1.LTIM = 0) latches a request into IRR on a
rising input edge; the latch stays set until the INTA cycle (the input
may fall meanwhile).  Level mode (ICW1.LTIM = 1) makes IRR follow the
inputs, and the INTA cycle does not clear it.

Spurious interrupts: if ``acknowledge()`` finds no request (it went away,
or was masked, after INTR rose), the chip returns its IR7 vector without
setting ISR; for the slave, the master still acknowledges IR2 and the
vector is the slave's IR7 (0x0F / 0x77 on a BIOS-programmed PC).

Deliberate deviations:

* Edge requests are latched until acknowledged even if the input falls
  first (QEMU does the same; the datasheet says such a request turns into
  a spurious IR7).  Level mode gives the datasheet's spurious behaviour.
* Only 8086/8088 mode: ICW4.uPM = 0 (8080 CALL sequence) and ICW1.ADI are
  accepted but vectors are always formed the 8086 way.  Buffered mode and
  M/S (ICW4 bits 2-3) are stored but mean nothing here.
* ICW3 is stored, but the pair's cascade wiring is fixed (slave on master
  IR2, slave ID 2); single mode (ICW1.SNGL) only skips ICW3.
* No ELCR (the PIIX per-line edge/level register at 0x4D0/0x4D1): level
  mode is per chip, through ICW1.LTIM.
* ICW1 clears IRR, ISR and IMR (the datasheet says IMR; QEMU clears all
  three) but remembers the input levels, so an input that is already high
  must fall and rise again to be seen (the datasheet's "edge sense circuit
  is reset").
"""

from __future__ import annotations

from typing import Optional

from emu.devices.device import ByteRegisterDevice, IrqLine

ICW1_IC4 = 0x01         # ICW4 will follow
ICW1_SNGL = 0x02        # single chip: no ICW3
ICW1_LTIM = 0x08        # level-triggered inputs
ICW1_INIT = 0x10        # A0 = 0 and D4 = 1: this is ICW1
OCW3_SELECT = 0x08      # A0 = 0, D4 = 0, D3 = 1: this is OCW3
ICW4_AEOI = 0x02
ICW4_SFNM = 0x10

CASCADE_IR = 2          # the PC/AT slave hangs on master IR2

# Initialization state: which ICW the data port expects next.
_READY, _ICW2, _ICW3, _ICW4 = 0, 1, 2, 3


class I8259(ByteRegisterDevice):
    """One 8259A: ``I8259(master=True, intr=None, name=None)``."""

    region_size = 2

    def __init__(self, master: bool = True, intr: Optional[IrqLine] = None,
                 name: Optional[str] = None):
        super().__init__(name if name is not None else ("pic-master" if master else "pic-slave"))
        self.master = master
        self.intr = intr if intr is not None else IrqLine()
        self.lines = 0                  # current input levels, bit n = IRn
        self._clear_state()
        self._update()

    # ----------------------------------------------------------------- state

    def _clear_state(self) -> None:
        self.irr = 0
        self.isr = 0
        self.imr = 0
        self.irq_base = 0
        self.priority_add = 0           # IR number with the highest priority
        self.read_isr = False           # OCW3 RR/RIS: next A0=0 read is ISR
        self.poll = False
        self.special_mask = False
        self.init_state = _READY
        self.icw1 = 0
        self.icw3 = 0
        self.icw4 = 0
        self.auto_eoi = False
        self.rotate_on_auto_eoi = False
        self.special_fully_nested = False
        self.level_triggered = False

    def reset(self) -> None:
        super().reset()
        self._clear_state()
        self._update()

    # ------------------------------------------------------ priority logic

    def _priority(self, mask: int) -> int:
        """Priority (0 = highest) of the best bit in ``mask``; 8 if none."""
        if mask == 0:
            return 8
        p = 0
        while not mask & (1 << ((p + self.priority_add) & 7)):
            p += 1
        return p

    def best_request(self) -> Optional[int]:
        """The IR number the chip would interrupt for now, or None."""
        p = self._priority(self.irr & ~self.imr)
        if p == 8:
            return None
        in_service = self.isr
        if self.special_mask:
            in_service &= ~self.imr
        if self.special_fully_nested and self.master:
            in_service &= ~(1 << CASCADE_IR)
        if p < self._priority(in_service):
            return (p + self.priority_add) & 7
        return None

    def _update(self) -> None:
        self.intr.set(self.best_request() is not None)

    # ------------------------------------------------------------ the pins

    def set_irq(self, n: int, level: bool) -> None:
        """Drive input IRn (0-7) to ``level``."""
        if not 0 <= n < 8:
            raise ValueError(f"8259 input {n} is not 0-7")
        bit = 1 << n
        if self.level_triggered:
            self.irr = (self.irr | bit) if level else (self.irr & ~bit)
        elif level and not self.lines & bit:
            self.irr |= bit             # rising edge latches the request
        self.lines = (self.lines | bit) if level else (self.lines & ~bit)
        self._update()

    def intack(self, n: int) -> None:
        """The INTA cycle for IRn: set ISR (unless AEOI), clear an edge IRR."""
        bit = 1 << n
        if self.auto_eoi:
            if self.rotate_on_auto_eoi:
                self.priority_add = (n + 1) & 7
        else:
            self.isr |= bit
        if not self.level_triggered:
            self.irr &= ~bit
        self._update()

    # -------------------------------------------------------------- ports

    def read_byte(self, offset: int) -> int:
        if self.poll:
            # Poll command: the read acts as an INTA; D7 = request present.
            self.poll = False
            n = self.best_request()
            if n is None:
                return 0
            self.intack(n)
            return 0x80 | n
        if offset == 0:
            return self.isr if self.read_isr else self.irr
        return self.imr

    def write_byte(self, offset: int, value: int) -> None:
        if offset == 0:
            if value & ICW1_INIT:
                self._icw1(value)
            elif value & OCW3_SELECT:
                self._ocw3(value)
            else:
                self._ocw2(value)
            return
        if self.init_state == _READY:
            self.imr = value                        # OCW1
            self._update()
        elif self.init_state == _ICW2:
            self.irq_base = value & 0xF8
            if not self.icw1 & ICW1_SNGL:
                self.init_state = _ICW3
            else:
                self.init_state = _ICW4 if self.icw1 & ICW1_IC4 else _READY
        elif self.init_state == _ICW3:
            self.icw3 = value
            self.init_state = _ICW4 if self.icw1 & ICW1_IC4 else _READY
        else:
            self.icw4 = value
            self.auto_eoi = bool(value & ICW4_AEOI)
            self.special_fully_nested = bool(value & ICW4_SFNM)
            self.init_state = _READY

    def _icw1(self, value: int) -> None:
        lines = self.lines
        self._clear_state()
        self.lines = lines
        self.icw1 = value
        self.level_triggered = bool(value & ICW1_LTIM)
        if self.level_triggered:
            self.irr = lines
        self.init_state = _ICW2
        self._update()

    def _ocw2(self, value: int) -> None:
        command = value >> 5            # R, SL, EOI
        level = value & 7
        if command in (0b000, 0b100):   # clear / set rotate in AEOI mode
            self.rotate_on_auto_eoi = bool(command & 0b100)
        elif command in (0b001, 0b101):  # non-specific EOI (and rotate)
            p = self._priority(self.isr)
            if p != 8:
                n = (p + self.priority_add) & 7
                self.isr &= ~(1 << n)
                if command == 0b101:
                    self.priority_add = (n + 1) & 7
        elif command == 0b011:          # specific EOI
            self.isr &= ~(1 << level)
        elif command == 0b110:          # set priority: IR level lowest
            self.priority_add = (level + 1) & 7
        elif command == 0b111:          # rotate on specific EOI
            self.isr &= ~(1 << level)
            self.priority_add = (level + 1) & 7
        # 0b010: no operation
        self._update()

    def _ocw3(self, value: int) -> None:
        if value & 0x04:
            self.poll = True
        if value & 0x02:
            self.read_isr = bool(value & 0x01)
        if value & 0x40:
            self.special_mask = bool(value & 0x20)
        self._update()

    # ------------------------------------------------------------ snapshots

    _FIELDS = ("lines", "irr", "isr", "imr", "irq_base", "priority_add", "read_isr",
               "poll", "special_mask", "init_state", "icw1", "icw3", "icw4",
               "auto_eoi", "rotate_on_auto_eoi", "special_fully_nested",
               "level_triggered")

    def snapshot(self) -> dict:
        return {f: getattr(self, f) for f in self._FIELDS}

    def restore(self, state: dict) -> None:
        for f in self._FIELDS:
            setattr(self, f, state[f])
        self._update()


class I8259Pair:
    """Master + slave 8259A as on the PC/AT: ``I8259Pair(intr=None)``.

    Not itself a bus device: map ``master`` (2 bytes, at 0x20) and
    ``slave`` (2 bytes, at 0xA0).  ``intr`` is the master's output to the
    CPU.  IRQ n (0-15) goes in through ``set_irq(n, level)``.
    """

    name = "pic"

    def __init__(self, intr: Optional[IrqLine] = None):
        self.master = I8259(master=True, intr=intr, name="pic-master")
        self.slave = I8259(master=False, name="pic-slave")
        self.slave.intr.connect(lambda level: self.master.set_irq(CASCADE_IR, level))

    @property
    def intr(self) -> IrqLine:
        return self.master.intr

    def bios_init(self, master_base: int = 0x08, slave_base: int = 0x70,
                  master_mask: int = 0xF8, slave_mask: int = 0xFF) -> None:
        """Program both chips through their ports as a PC BIOS does
        (ICW1=0x11, ICW2=base, ICW3=0x04/0x02, ICW4=0x01, then OCW1), for
        boards that start a guest without a BIOS.  The default masks leave
        IRQ 0 (timer), 1 (keyboard) and 2 (cascade) enabled, roughly what
        SeaBIOS leaves."""
        for chip, base, icw3 in ((self.master, master_base, 0x04),
                                 (self.slave, slave_base, 0x02)):
            chip.write_byte(0, 0x11)
            chip.write_byte(1, base)
            chip.write_byte(1, icw3)
            chip.write_byte(1, 0x01)
        self.master.write_byte(1, master_mask)
        self.slave.write_byte(1, slave_mask)

    def set_irq(self, n: int, level: bool) -> None:
        if not 0 <= n < 16:
            raise ValueError(f"PC IRQ {n} is not 0-15")
        if n < 8:
            self.master.set_irq(n, level)
        else:
            self.slave.set_irq(n - 8, level)

    def irq_line(self, n: int) -> IrqLine:
        """A fresh ``IrqLine`` wired to IRQ n, for a device constructor."""
        if not 0 <= n < 16:
            raise ValueError(f"PC IRQ {n} is not 0-15")
        return IrqLine(lambda level: self.set_irq(n, level))

    def pending_vector(self) -> Optional[int]:
        """The vector ``acknowledge()`` would return now, or None if INTR is low."""
        n = self.master.best_request()
        if n is None:
            return None
        if n == CASCADE_IR:
            s = self.slave.best_request()
            return self.slave.irq_base + (7 if s is None else s)
        return self.master.irq_base + n

    def acknowledge(self) -> int:
        """The CPU's INTA cycle: return the vector and update ISR/IRR."""
        n = self.master.best_request()
        if n is None:
            return self.master.irq_base + 7         # spurious IRQ7
        if n == CASCADE_IR:
            s = self.slave.best_request()
            if s is None:
                vector = self.slave.irq_base + 7    # spurious IRQ15
            else:
                self.slave.intack(s)
                vector = self.slave.irq_base + s
        else:
            vector = self.master.irq_base + n
        self.master.intack(n)
        return vector

    def reset(self) -> None:
        self.master.reset()
        self.slave.reset()

    def snapshot(self) -> dict:
        return {"master": self.master.snapshot(), "slave": self.slave.snapshot()}

    def restore(self, state: dict) -> None:
        self.slave.restore(state["slave"])
        self.master.restore(state["master"])
