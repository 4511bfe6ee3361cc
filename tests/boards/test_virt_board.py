"""The virt board's wiring (emu/boards/virt.py) against QEMU's virt memory
map: the devices at their addresses on the MMIO bus, the PL011 on SPI 1
(ID 33) through the GIC to the CPU's IRQ input, RAM at 0x40000000, images
loaded as QEMU's -kernel loads them, the CPU out of reset, and the
semihosting console sharing the UART's output and input.

The board is driven here with a stand-in for the Machine's parts it uses
(tests/boards/standin.py): the Arm CPU is another package, and these tests
are about the board alone."""

import pytest

from emu.boards import get_board, virt
from emu.devices import gic as G
from emu.devices import pl011 as P
from emu.devices import semihosting as S
from emu.exits import SemihostingExit
from emu.machine import Machine
from tests.boards.standin import StandInMachine


def test_the_registry_finds_virt_and_its_map_is_qemus():
    board = get_board("virt")
    assert board is virt and board.TARGET == "arm"
    mm = board.MEMORY_MAP
    assert (mm.ram_base, mm.ram_size) == (0x40000000, 128 << 20)
    assert {r.name: r.base for r in mm.mmio} == {"gic-distributor": 0x08000000,
                                                 "gic-cpu": 0x08010000, "pl011": 0x09000000}


def test_the_board_module_does_not_import_the_arm_package():
    import ast
    import inspect
    tree = ast.parse(inspect.getsource(virt))
    names = [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    names += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    assert not [n for n in names if "isa" in n], names


def test_devices_answer_at_their_addresses():
    m = StandInMachine()
    pid = [m.mmio.read(0x09000FE0 + 4 * i, 4) for i in range(4)]
    assert pid[0] | (pid[1] & 0xF) << 8 == 0x011                  # PL011's part number
    assert m.mmio.read(0x09000000 + P.FR, 4) == 0x90
    assert m.mmio.read(0x08000000 + G.GICD_TYPER, 4) & 0x1F == 8
    assert m.mmio.read(0x08010000 + G.GICC_IAR, 4) == 1023
    m.mmio.write(0x09000000, 1, ord("!"))
    assert m.shown == b"!" and bytes(m.serial_log) == b"!"


def test_the_uart_interrupts_the_cpu_through_the_gic_as_id_33():
    m = StandInMachine(serial_input=b"k")
    w = m.mmio.write
    w(0x08000000 + G.GICD_ISENABLER + 4, 4, 1 << 1)               # ID 33
    w(0x08000000 + G.GICD_IPRIORITYR + 33, 1, 0x80)
    w(0x08000000 + G.GICD_CTLR, 4, 1)
    w(0x08010000 + G.GICC_PMR, 4, 0xF0)
    w(0x08010000 + G.GICC_CTLR, 4, 1)
    assert not m.accel.irq_line
    w(0x09000000 + P.IMSC, 4, P.INT_RX)
    assert m.accel.irq_line
    assert virt.wait_for_interrupt(m)                              # WFI wakes
    assert m.mmio.read(0x08010000 + G.GICC_IAR, 4) == 33
    assert m.mmio.read(0x09000000 + P.DR, 4) == ord("k")
    w(0x08010000 + G.GICC_EOIR, 4, 33)
    assert not m.accel.irq_line
    assert not virt.wait_for_interrupt(m)                          # nothing can wake it


def test_reset_enters_svc_mode_with_a_i_f_masked_at_the_raw_load_address():
    m = StandInMachine()
    assert m.cpu.cpsr == 0x1D3 and m.cpu.pc == 0x40010000 and m.cpu.r[:15] == [0] * 15


def test_a_raw_image_loads_at_0x40010000_and_an_elf_where_it_is_linked():
    m = StandInMachine()
    virt.load(m, b"\x01\x02\x03\x04", "raw")
    assert m.ram.read_bytes(0x40010000, 4) == b"\x01\x02\x03\x04" and m.cpu.pc == 0x40010000
    virt.load(m, b"\xaa" * 16, "elf", entry=0x40100008, base=0x40100000)
    assert m.ram.read_bytes(0x40100000, 16) == b"\xaa" * 16 and m.cpu.pc == 0x40100008


@pytest.mark.parametrize("base, entry, message", [
    (0x8000, None, "does not fit in RAM 0x40000000-0x47ffffff"),
    (0x47FFFFF0, None, "does not fit in RAM"),
    (None, 0x40000000, "entry point 0x40000000 is outside the image (0x40010000-0x4001001f)"),
])
def test_images_outside_ram_or_entries_outside_the_image_are_refused(base, entry, message):
    m = StandInMachine()
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        virt.load(m, bytes(32), "img", entry=entry, base=base)


def test_semihosting_is_made_only_when_asked_and_shares_the_console():
    assert StandInMachine().semihosting is None
    m = StandInMachine(semihosting=True, serial_input=b"ab")
    sh = m.semihosting
    assert m.devices["semihosting"] is sh
    # one input stream, read in turn; the UART takes none before the guest touches it
    assert sh.call(S.SYS_READC, 0) == ord("a")
    m.ram.load(0x40001000, b"semi\0")
    sh.call(S.SYS_WRITE0, 0x40001000)
    m.mmio.write(0x09000000, 4, ord("U"))
    assert m.shown == b"semiU"
    assert m.mmio.read(0x09000000, 4) == ord("b")
    virt.load(m, bytes(0x1000), "img")
    words = m.ram.read_bytes
    m.ram.load(0x40002000, (0x40003000).to_bytes(4, "little"))
    sh.call(S.SYS_HEAPINFO, 0x40002000)
    heap = [int.from_bytes(words(0x40003000 + 4 * i, 4), "little") for i in range(4)]
    assert heap == [0x40011000, 0x48000000, 0x48000000, 0x40011000]


def test_semihosting_on_a_board_without_it_is_one_line():
    with pytest.raises(ValueError) as e:
        Machine(board="pc", semihosting=True)
    assert str(e.value) == ("-semihosting: machine 'pc' has no Arm semihosting "
                            "(expected an Arm board: virt)")


def test_the_machine_serves_a_semihosting_exit_and_counts_it():
    """The Machine's dispatch: the call is served, its value is left in the
    exit for the engine to put in r0, and the exit is counted by op."""
    m = Machine(board="pc")
    out = bytearray()
    m.semihosting = S.Semihosting(m.ram, m.clock.now_ns, sink=out)
    m.ram.load(0x1000, b"ok\0")
    ex = SemihostingExit(op=S.SYS_WRITE0, param=0x1000)
    m.dispatch_exit(ex)
    assert out == b"ok" and ex.result == 0
    ex = SemihostingExit(op=S.SYS_CLOCK, param=0, result=0x55)
    m.dispatch_exit(ex)
    assert ex.result == 0
    assert m.stats.by_reason["SEMIHOSTING"] == 2
    m.close()


def test_a_semihosting_exit_describes_itself_and_where_it_came_from():
    from emu.exits import source_text
    ex = SemihostingExit(op=S.SYS_WRITE0, param=0x40001000, pc=0x40010008)
    assert ex.describe() == "SEMIHOSTING op 0x04 param 0x40001000"
    assert source_text(ex) == " at 0x40010008"
