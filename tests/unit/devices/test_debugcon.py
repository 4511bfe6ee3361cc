"""isa-debugcon (port 0xE9), after QEMU hw/char/debugcon.c."""

from emu.devices.debugcon import DebugCon


def test_writes_go_to_output():
    con = DebugCon()
    for ch in b"hi\n":
        con.write(0, 1, ch)
    assert con.output == bytearray(b"hi\n")
    assert con.bytes_tx == 3


def test_wide_write_sends_low_byte_only():
    con = DebugCon()
    con.write(0, 2, 0x4142)
    assert con.output == bytearray(b"B")


def test_read_returns_readback_0xe9():
    assert DebugCon().read(0, 1) == 0xE9
    assert DebugCon(readback=0x42).read(0, 1) == 0x42


def test_callable_sink():
    got = []
    con = DebugCon(sink=got.append)
    con.write(0, 1, ord("x"))
    assert got == [b"x"]
    assert con.output is None


def test_restore_truncates_collected_output():
    buf = bytearray(b">")
    con = DebugCon(sink=buf)
    con.write(0, 1, ord("a"))
    state = con.snapshot()
    con.write(0, 1, ord("b"))
    con.restore(state)
    assert buf == bytearray(b">a")
    assert con.bytes_tx == 1
