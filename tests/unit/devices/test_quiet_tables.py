"""One quiet-server vocabulary (emu/quiet.py) for the bus, the Machine and
the x86 Ops: an address nothing serves quietly has the one server
``declined``, in a Machine's tables and in the table an Ops without a
Machine consults, so that an engine tells it by identity."""

from emu import quiet
from emu.isa.x86.concrete import ConcreteOps
from emu.machine import Machine


def test_an_ops_without_a_machine_declines_every_port_with_the_shared_server():
    m = Machine("pc", "interp", memory=1 << 20)
    ops = ConcreteOps(m.cpu, m.ram, m.model)
    assert ops.io_reads is quiet.DECLINE_ALL and ops.io_writes is quiet.DECLINE_ALL
    assert ops.io_writes[0x80] is quiet.declined
    assert ops.io_reads[0xFFFF](1, 0) == -1
    assert len(quiet.DECLINE_ALL) == 0          # it remembers no port


def test_a_machine_declines_a_port_without_a_quiet_device_with_the_same_server():
    m = Machine("pc", "interp", memory=1 << 20)
    assert m.quiet_port_writes[0x80] is quiet.declined     # no device at 0x80
    assert m.quiet_port_writes[0x3FF] is not quiet.declined  # COM1's scratch register
    assert isinstance(m.quiet_port_writes, quiet.QuietTable)
