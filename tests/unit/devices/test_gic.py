"""The GICv2 subset (emu/devices/gic.py) against the GIC architecture
specification v2.0 (IHI 0048B): enables, priority mask, IAR/EOIR and the
active state, level vs edge, priority order and preemption."""

from emu.devices import gic as G
from emu.devices.device import IrqLine


def make():
    out = IrqLine()
    g = G.Gic(irq=out)
    return g, g.distributor, g.cpu_interface, out


def enable(d, c, n, prio=0xA0, pmr=0xF0):
    d.write(G.GICD_ISENABLER + 4 * (n // 32), 4, 1 << (n % 32))
    d.write(G.GICD_IPRIORITYR + n, 1, prio)
    d.write(G.GICD_CTLR, 4, 1)
    c.write(G.GICC_PMR, 4, pmr)
    c.write(G.GICC_CTLR, 4, 1)


def test_identification_and_type():
    g, d, c, _ = make()
    assert d.read(G.GICD_TYPER, 4) & 0x1F == 8          # 32 * (8 + 1) = 288 IDs
    assert d.read(G.GICD_IIDR, 4) & 0xFFF == 0x43B       # implementer: ARM
    assert (d.read(G.GICD_ICPIDR2, 4) >> 4) & 0xF == 2   # ArchRev: GICv2
    assert c.read(G.GICC_IAR, 4) == 1023                 # nothing pending: spurious


def test_an_spi_reaches_the_cpu_only_with_every_gate_open():
    g, d, c, out = make()
    line = g.irq_line(1)                                  # ID 33
    line.raise_()
    assert not out.level                                  # disabled, and both interfaces off
    d.write(G.GICD_ISENABLER + 4, 4, 1 << 1)
    assert d.read(G.GICD_ISPENDR + 4, 4) == 1 << 1       # pending, whatever the enables
    d.write(G.GICD_CTLR, 4, 1)
    c.write(G.GICC_CTLR, 4, 1)
    assert not out.level                                  # PMR 0 masks every priority
    c.write(G.GICC_PMR, 4, 0xF0)
    assert out.level
    d.write(G.GICD_ICENABLER + 4, 4, 1 << 1)
    assert not out.level


def test_priority_mask_is_strict():
    g, d, c, out = make()
    enable(d, c, 33, prio=0x80, pmr=0x80)
    g.irq_line(1).raise_()
    assert not out.level                                  # only priorities below PMR pass
    c.write(G.GICC_PMR, 4, 0x81)
    assert out.level


def test_a_level_interrupt_is_active_and_pending_until_its_source_drops():
    g, d, c, out = make()
    enable(d, c, 33)
    line = g.irq_line(1)
    line.raise_()
    assert c.read(G.GICC_HPPIR, 4) == 33
    assert c.read(G.GICC_IAR, 4) == 33
    assert not out.level                                  # active: not signalled again
    assert c.read(G.GICC_RPR, 4) == 0xA0
    assert d.read(G.GICD_ISACTIVER + 4, 4) == 1 << 1
    assert d.read(G.GICD_ISPENDR + 4, 4) == 1 << 1       # active and pending
    c.write(G.GICC_EOIR, 4, 33)
    assert out.level                                      # still high: signalled again
    line.lower()
    assert not out.level and c.read(G.GICC_IAR, 4) == 1023
    assert c.read(G.GICC_RPR, 4) == 0xFF


def test_an_edge_interrupt_latches_and_is_consumed_by_acknowledge():
    g, d, c, out = make()
    enable(d, c, 34)
    d.write(G.GICD_ICFGR + 8, 4, 2 << 4)                  # ID 34: bits [5:4] = 0b10, edge
    line = g.irq_line(2)
    line.pulse()
    line.lower()
    assert out.level                                      # latched after the input fell
    assert c.read(G.GICC_IAR, 4) == 34
    c.write(G.GICC_EOIR, 4, 34)
    assert not out.level


def test_highest_priority_first_then_lowest_id_and_preemption_by_group():
    g, d, c, out = make()
    lines = {n: g.irq_line(n - 32) for n in (33, 34, 35, 36)}
    for n, prio in ((33, 0x80), (34, 0x40), (35, 0x40)):
        enable(d, c, n, prio=prio)
        lines[n].raise_()
    assert c.read(G.GICC_IAR, 4) == 34                    # 0x40 beats 0x80; 34 before 35
    # 35 has the same priority as the running 34: no preemption
    assert not out.level
    c.write(G.GICC_EOIR, 4, 34)
    lines[34].lower()
    assert c.read(G.GICC_IAR, 4) == 35
    c.write(G.GICC_EOIR, 4, 35)
    lines[35].lower()
    # a higher priority preempts a running lower one only if its group
    # priority is higher (BPR 2: group priority is bits [7:3])
    c.write(G.GICC_BPR, 4, 2)
    d.write(G.GICD_IPRIORITYR + 33, 1, 0x8C)
    assert c.read(G.GICC_IAR, 4) == 33                    # running 0x8C, group 0x88
    enable(d, c, 36, prio=0x88)
    lines[36].raise_()
    assert not out.level                                  # group 0x88: the same
    c.write(G.GICC_BPR, 4, 1)                             # group priority bits [7:2]
    assert out.level                                      # 0x88 < 0x8C: preempts
    assert c.read(G.GICC_IAR, 4) == 36 and c.read(G.GICC_RPR, 4) == 0x88


def test_one_cpu_targets_read_as_zero_and_sgis_are_always_enabled():
    # 4.3.12: a uniprocessor's GICD_ITARGETSRn are RAZ/WI; SGI enables RAO/WI
    g, d, c, _ = make()
    d.write(G.GICD_ITARGETSR + 32, 4, 0x01010101)
    assert d.read(G.GICD_ITARGETSR, 4) == 0 and d.read(G.GICD_ITARGETSR + 32, 4) == 0
    assert d.read(G.GICD_ISENABLER, 4) == 0xFFFF
    d.write(G.GICD_ICENABLER, 4, 0xFFFFFFFF)
    assert d.read(G.GICD_ISENABLER, 4) == 0xFFFF


def test_snapshot_restore():
    g, d, c, out = make()
    enable(d, c, 33)
    g.irq_line(1).raise_()
    snap = d.snapshot()
    c.read(G.GICC_IAR, 4)
    d.restore(snap)
    assert c.read(G.GICC_IAR, 4) == 33
