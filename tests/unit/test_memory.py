"""RAM's record of where code is (emu.memory): a store drops decoded code
only when it writes one of its bytes, as QEMU's per-page code bitmap does."""

from emu.memory import Ram


def _ram_with_code(base=0):
    ram = Ram(0x10000, base)
    dropped = []
    ram.add_invalidation_listener(dropped.append)
    ram.mark_code(base + 0x1010, 6)           # one instruction, 0x1010..0x1015
    return ram, dropped


def test_a_store_next_to_code_in_its_granule_keeps_the_code():
    ram, dropped = _ram_with_code()
    for addr, size in ((0x1016, 1), (0x1016, 4), (0x100c, 4), (0x1000, 2), (0x103e, 2)):
        ram.write(addr, size, (1 << 8 * size) - 1)
    assert dropped == []
    assert not ram.holds_code(0x1016, 10) and not ram.holds_code(0x100c, 4)


def test_a_store_onto_any_byte_of_the_code_drops_its_page():
    for addr, size in ((0x1010, 1), (0x1012, 1), (0x1015, 1), (0x100f, 2), (0x1014, 4)):
        ram, dropped = _ram_with_code()
        ram.write(addr, size, 0)
        assert dropped == [1], (hex(addr), size)
        assert not ram.holds_code(0x1010, 6)      # the page's code is gone


def test_the_byte_map_follows_a_ram_base():
    ram, dropped = _ram_with_code(base=0x40000000)
    ram.write(0x40001016, 4, 1)
    assert dropped == []
    ram.write(0x40001013, 1, 1)
    assert dropped == [0x40001]


def test_an_instruction_split_across_two_pages_is_code_in_both():
    ram = Ram(0x10000)
    dropped = []
    ram.add_invalidation_listener(dropped.append)
    ram.mark_code(0x1ffe, 4)
    ram.write(0x2002, 1, 0)                   # just past it
    assert dropped == []
    ram.write(0x2001, 1, 0)
    assert dropped == [2]
