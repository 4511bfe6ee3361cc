"""A GICv2 interrupt controller, one CPU, no security extensions: the
``virt`` board's distributor (0x08000000) and CPU interface (0x08010000).

Model: *ARM Generic Interrupt Controller Architecture Specification,
version 2.0* (IHI 0048B): chapter 3 (interrupt handling and
prioritization: 3.2 the states pending/active/active-and-pending, 3.3
priority and preemption, 3.4 the running priority), chapter 4 (the
programmers' model: 4.3 distributor registers, 4.4 CPU interface
registers).  Where the specification leaves values to the implementation
(identification, BPR's reset value) they are what QEMU's GIC on ``virt``
reads back, as tests/differential/test_arm_qemu.py measures.

Interrupt IDs: 0-15 SGIs, 16-31 PPIs, 32-287 SPIs (QEMU's virt has 256
SPIs: GICD_TYPER.ITLinesNumber = 8).  Devices drive SPIs through
:meth:`Gic.irq_line` (``irq_line(1)`` is ID 33, the PL011 on virt).

Distributor (offsets; byte, halfword or word access where the spec allows
byte access, else words)::

    0x000 GICD_CTLR        bit 0: forward pending interrupts to the CPU interface
    0x004 GICD_TYPER       ITLinesNumber = 8, CPUNumber = 0, no security
    0x008 GICD_IIDR        0x0000043B (implementer ARM)
    0x080 GICD_IGROUPRn    read as zero (every interrupt is Group 0)
    0x100 GICD_ISENABLERn  set-enable, 0x180 GICD_ICENABLERn clear-enable
                           (SGIs 0-15 are always enabled: RAO/WI)
    0x200 GICD_ISPENDRn    set-pending, 0x280 GICD_ICPENDRn clear-pending
    0x300 GICD_ISACTIVERn  set-active, 0x380 GICD_ICACTIVERn clear-active
    0x400 GICD_IPRIORITYRn a byte per interrupt (all 8 bits implemented)
    0x800 GICD_ITARGETSRn  RAZ/WI: one CPU, which every interrupt targets
                           (4.3.12, uniprocessor implementations)
    0xC00 GICD_ICFGRn      2 bits per interrupt, bit 1 = edge-triggered;
                           SGIs read edge (0xAAAAAAAA), PPIs level
    0xF00 GICD_SGIR        ignored (SGIs are not modelled)
    0xFE8 ICPIDR2          0x2B: ArchRev 2

CPU interface::

    0x00 GICC_CTLR   bit 0: signal interrupts to the processor
    0x04 GICC_PMR    priority mask: only priorities numerically lower pass
    0x08 GICC_BPR    binary point (0-7, reset 0): group priority = the
                     priority's bits above bit BPR
    0x0C GICC_IAR    acknowledge: the ID of the highest-priority pending
                     interrupt, which becomes active; 1023 if none
    0x10 GICC_EOIR   end of interrupt: the ID written stops being active
    0x14 GICC_RPR    running priority (0xFF when nothing is active)
    0x18 GICC_HPPIR  the highest-priority pending ID that passes the
                     enables and PMR (1023 if none), as QEMU reads it
    0xFC GICC_IIDR   0x0002043B (architecture version 2, implementer ARM)

Level-sensitive interrupts are pending while their input is high (3.2.4:
acknowledging a level interrupt whose input stays high makes it active
and pending); an edge-triggered one latches pending on a rising edge and
loses it when acknowledged.  An interrupt is signalled to the CPU (the
``irq`` output line, the processor's nIRQ) when both enables are set and
the highest-priority pending, enabled, inactive interrupt has a priority
below PMR and a group priority above (numerically below) the running
priority's; ties go to the lowest ID (3.3).  FIQ is not used.
"""

from __future__ import annotations

from typing import Optional

from .device import Device, IrqLine, size_mask

NUM_IRQ = 288                   # 32 private + QEMU virt's 256 SPIs
SPI_BASE = 32
SPURIOUS = 1023
IDLE_PRIORITY = 0xFF
GICD_IIDR_VALUE = 0x0000043B
GICC_IIDR_VALUE = 0x0002043B
ICPIDR2_VALUE = 0x2B
RESET_BPR = 0
NUM_SGI = 16

# distributor offsets
GICD_CTLR, GICD_TYPER, GICD_IIDR = 0x000, 0x004, 0x008
GICD_IGROUPR, GICD_ISENABLER, GICD_ICENABLER = 0x080, 0x100, 0x180
GICD_ISPENDR, GICD_ICPENDR, GICD_ISACTIVER, GICD_ICACTIVER = 0x200, 0x280, 0x300, 0x380
GICD_IPRIORITYR, GICD_ITARGETSR, GICD_ICFGR, GICD_SGIR = 0x400, 0x800, 0xC00, 0xF00
GICD_ICPIDR2 = 0xFE8
# CPU interface offsets
GICC_CTLR, GICC_PMR, GICC_BPR, GICC_IAR, GICC_EOIR, GICC_RPR, GICC_HPPIR = (
    0x00, 0x04, 0x08, 0x0C, 0x10, 0x14, 0x18)
GICC_IIDR = 0xFC


def _bit_array(off: int, base: int) -> Optional[int]:
    """The first interrupt ID a word of a one-bit-per-interrupt array covers."""
    if base <= off < base + NUM_IRQ // 8:
        return (off - base) * 8
    return None


class Gic:
    """The controller's state, shared by its two register frames
    (``distributor`` and ``cpu_interface``, the devices a board maps)."""

    def __init__(self, irq: Optional[IrqLine] = None):
        self.irq = irq if irq is not None else IrqLine()
        self.distributor = GicDistributor(self)
        self.cpu_interface = GicCpuInterface(self)
        self._inputs = [False] * NUM_IRQ
        self.reset()

    def reset(self) -> None:
        self.dist_enabled = False
        self.cpu_enabled = False
        self.pmr = 0
        self.bpr = RESET_BPR
        self.enabled = [i < NUM_SGI for i in range(NUM_IRQ)]     # SGIs: always
        self.latched = [False] * NUM_IRQ           # pending by an edge or ISPENDR
        self.active = [False] * NUM_IRQ
        self.priority = [0] * NUM_IRQ
        # edge-triggered: SGIs always; PPIs and SPIs level until configured
        self.edge = [i < NUM_SGI for i in range(NUM_IRQ)]
        self.update()

    # -- inputs ------------------------------------------------------------------
    def irq_line(self, spi: int) -> IrqLine:
        """The input wire of shared peripheral interrupt ``spi`` (ID 32 + spi)."""
        n = SPI_BASE + spi
        if not 0 <= spi < NUM_IRQ - SPI_BASE:
            raise ValueError(f"SPI {spi}: expected 0..{NUM_IRQ - SPI_BASE - 1}")
        return IrqLine(lambda level: self.set_input(n, level))

    def set_input(self, n: int, level: bool) -> None:
        if level and not self._inputs[n] and self.edge[n]:
            self.latched[n] = True
        self._inputs[n] = level
        self.update()

    def pending(self, n: int) -> bool:
        return self.latched[n] or (not self.edge[n] and self._inputs[n])

    # -- prioritisation ------------------------------------------------------------
    def running_priority(self) -> int:
        prios = [self.priority[n] for n in range(NUM_IRQ) if self.active[n]]
        return min(prios) if prios else IDLE_PRIORITY

    def highest_pending(self) -> Optional[int]:
        """The ID of the highest-priority pending, enabled, inactive interrupt
        (lowest ID on ties), or None."""
        best = None
        for n in range(NUM_IRQ):
            if self.enabled[n] and not self.active[n] and self.pending(n):
                if best is None or self.priority[n] < self.priority[best]:
                    best = n
        return best

    def _group(self, prio: int) -> int:
        return prio & (0xFF << (self.bpr + 1)) & 0xFF

    def highest_passing(self) -> Optional[int]:
        """The highest-priority pending interrupt the CPU interface lets
        through: both interfaces enabled, its priority below PMR (GICC_HPPIR
        reads it, as on QEMU; whether it may preempt is another matter)."""
        if not (self.dist_enabled and self.cpu_enabled):
            return None
        n = self.highest_pending()
        if n is None or self.priority[n] >= self.pmr:
            return None
        return n

    def signalled(self) -> Optional[int]:
        """The interrupt the CPU interface signals now, or None."""
        n = self.highest_passing()
        if n is None:
            return None
        running = self.running_priority()
        if running != IDLE_PRIORITY and self._group(self.priority[n]) >= self._group(running):
            return None
        return n

    def update(self) -> None:
        self.irq.set(self.signalled() is not None)

    # -- the CPU interface's acknowledge and end of interrupt -------------------------
    def acknowledge(self) -> int:
        n = self.signalled()
        if n is None:
            return SPURIOUS
        self.active[n] = True
        # an edge's latch is consumed; a level interrupt stays pending while
        # its input is high (it is then active and pending)
        self.latched[n] = False
        self.update()
        return n

    def end_of_interrupt(self, n: int) -> None:
        if 0 <= n < NUM_IRQ:
            self.active[n] = False
            self.update()

    # -- snapshots -----------------------------------------------------------------------
    _LISTS = ("enabled", "latched", "active", "priority", "edge", "_inputs")

    def snapshot(self) -> dict:
        state = {k: list(getattr(self, k)) for k in self._LISTS}
        state.update(dist_enabled=self.dist_enabled, cpu_enabled=self.cpu_enabled,
                     pmr=self.pmr, bpr=self.bpr)
        return state

    def restore(self, state: dict) -> None:
        for k in self._LISTS:
            setattr(self, k, [type(v)(v) for v in state[k]])
        self.dist_enabled = bool(state["dist_enabled"])
        self.cpu_enabled = bool(state["cpu_enabled"])
        self.pmr, self.bpr = int(state["pmr"]), int(state["bpr"])
        self.update()


class _Frame(Device):
    """One of the GIC's register frames: reads and writes go to the Gic."""

    region_size = 0x10000

    def __init__(self, gic: Gic, name: str):
        super().__init__(name)
        self.gic = gic


class GicDistributor(_Frame):
    """The distributor frame; it also carries the controller's snapshot."""

    def __init__(self, gic: Gic):
        super().__init__(gic, "gic-distributor")

    def reset(self) -> None:
        super().reset()
        self.gic.reset()

    def snapshot(self) -> dict:
        return self.gic.snapshot()

    def restore(self, state: dict) -> None:
        self.gic.restore(state)

    def read(self, offset: int, size: int) -> int:
        size_mask(size)
        g = self.gic
        if GICD_IPRIORITYR <= offset < GICD_IPRIORITYR + NUM_IRQ:
            return self._bytes(g.priority, offset - GICD_IPRIORITYR, size)
        off = offset & ~3
        shift = 8 * (offset & 3)
        return (self._read_word(off) >> shift) & size_mask(size)

    @staticmethod
    def _bytes(values, first: int, size: int) -> int:
        return sum((values[first + i] if first + i < NUM_IRQ else 0) << (8 * i)
                   for i in range(size))

    def _read_word(self, off: int) -> int:
        g = self.gic
        if off == GICD_CTLR:
            return int(g.dist_enabled)
        if off == GICD_TYPER:
            return NUM_IRQ // 32 - 1
        if off == GICD_IIDR:
            return GICD_IIDR_VALUE
        if off == GICD_ICPIDR2:
            return ICPIDR2_VALUE
        for base, bits in ((GICD_ISENABLER, g.enabled), (GICD_ICENABLER, g.enabled),
                           (GICD_ISACTIVER, g.active), (GICD_ICACTIVER, g.active)):
            first = _bit_array(off, base)
            if first is not None:
                return sum(int(bits[first + i]) << i for i in range(32))
        for base in (GICD_ISPENDR, GICD_ICPENDR):
            first = _bit_array(off, base)
            if first is not None:
                return sum(int(g.pending(first + i)) << i for i in range(32))
        if GICD_ICFGR <= off < GICD_ICFGR + NUM_IRQ // 4:
            first = (off - GICD_ICFGR) * 4
            return sum((2 if g.edge[first + i] else 0) << (2 * i) for i in range(16))
        return 0                        # IGROUPR (Group 0), ITARGETSR, SGIR, reserved

    def write(self, offset: int, size: int, value: int) -> None:
        value &= size_mask(size)
        g = self.gic
        if GICD_IPRIORITYR <= offset < GICD_IPRIORITYR + NUM_IRQ:
            for i in range(size):
                if offset - GICD_IPRIORITYR + i < NUM_IRQ:
                    g.priority[offset - GICD_IPRIORITYR + i] = (value >> (8 * i)) & 0xFF
        elif size == 4:
            self._write_word(offset, value)
        g.update()

    def _write_word(self, off: int, value: int) -> None:
        g = self.gic
        if off == GICD_CTLR:
            g.dist_enabled = bool(value & 1)
            return
        for base, bits, to in ((GICD_ISENABLER, g.enabled, True),
                               (GICD_ICENABLER, g.enabled, False),
                               (GICD_ISPENDR, g.latched, True), (GICD_ICPENDR, g.latched, False),
                               (GICD_ISACTIVER, g.active, True),
                               (GICD_ICACTIVER, g.active, False)):
            first = _bit_array(off, base)
            if first is not None:
                for i in range(32):
                    if value >> i & 1 and (base not in (GICD_ISENABLER, GICD_ICENABLER)
                                           or first + i >= NUM_SGI):
                        bits[first + i] = to        # SGIs are always enabled
                return
        if GICD_ICFGR <= off < GICD_ICFGR + NUM_IRQ // 4:
            first = (off - GICD_ICFGR) * 4
            for i in range(16):
                if first + i >= SPI_BASE:           # SGI and PPI configuration is fixed
                    g.edge[first + i] = bool(value >> (2 * i + 1) & 1)


class GicCpuInterface(_Frame):
    def __init__(self, gic: Gic):
        super().__init__(gic, "gic-cpu")

    def read(self, offset: int, size: int) -> int:
        size_mask(size)
        g = self.gic
        if offset == GICC_CTLR:
            return int(g.cpu_enabled)
        if offset == GICC_PMR:
            return g.pmr
        if offset == GICC_BPR:
            return g.bpr
        if offset == GICC_IAR:
            return g.acknowledge()
        if offset == GICC_RPR:
            return g.running_priority()
        if offset == GICC_HPPIR:
            n = g.highest_passing()
            return SPURIOUS if n is None else n
        if offset == GICC_IIDR:
            return GICC_IIDR_VALUE
        return 0

    def write(self, offset: int, size: int, value: int) -> None:
        value &= size_mask(size)
        g = self.gic
        if offset == GICC_CTLR:
            g.cpu_enabled = bool(value & 1)
        elif offset == GICC_PMR:
            g.pmr = value & 0xFF
        elif offset == GICC_BPR:
            g.bpr = value & 7
        elif offset == GICC_EOIR:
            g.end_of_interrupt(value & 0x3FF)
        g.update()
