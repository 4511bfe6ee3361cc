"""The bus's address lookup (emu/devices/bus.py): remembered per address,
and right again once a device is mapped after an address was looked up."""

from emu.devices import bus as busmod
from emu.devices.bus import Bus


class Reg:
    def __init__(self, name):
        self.name = name

    def read(self, off, size):
        return off


def test_find_sees_a_device_mapped_after_a_lookup():
    b = Bus("mmio", 1 << 32)
    a = Reg("a")
    b.map(0x1000, 0x100, a)
    assert b.find(0x2004) == (None, 0)          # unassigned, remembered
    assert b.find(0x1010) == (a, 0x10)
    c = Reg("c")
    b.map(0x2000, 0x100, c)
    assert b.find(0x2004) == (c, 4)
    assert b.find(0x1010) == (a, 0x10)
    assert b.read(0x2008, 4) == 8


def test_a_sweep_of_addresses_answers_right_past_what_is_remembered():
    b = Bus("mmio", 1 << 32)
    a = Reg("a")
    b.map(0x100000, 0x100000, a)
    n = busmod.FOUND_MAX + 100
    for addr in range(0x100000, 0x100000 + n):
        assert b.find(addr) == (a, addr - 0x100000)
    b.map(0x300000, 0x10, Reg("d"))
    assert b.find(0x100000 + n - 1) == (a, n - 1)
    assert b.find(0x50) == (None, 0)
