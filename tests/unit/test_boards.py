"""The board registry (emu/boards/__init__.py) and the Target each board
names (emu/isa/target.py): a Machine takes its architecture, CPU state and
CPU model from the board's Target, never from a string."""

import pytest

from emu.boards import BOARDS, MemoryMap, get_board
from emu.isa.target import Target
from emu.machine import Machine


@pytest.mark.parametrize("name", sorted(BOARDS))
def test_every_board_names_a_target_and_declares_its_memory_map(name):
    board = get_board(name)
    # the Target, or its name in emu.isa's registry (a board that must not
    # import its architecture's package)
    target = board.TARGET
    assert (isinstance(target, Target) and target.name) or (isinstance(target, str) and target)
    assert isinstance(board.MEMORY_MAP, MemoryMap) and board.MEMORY_MAP.ram_size > 0
    for region in board.MEMORY_MAP.mmio:
        assert not (region.base < board.MEMORY_MAP.ram_base + board.MEMORY_MAP.ram_size
                    and board.MEMORY_MAP.ram_base < region.base + region.size), region


@pytest.mark.parametrize("name", sorted(BOARDS))
def test_every_board_says_where_images_load(name):
    """What the loader and Machine.load_image ask of a board: where a raw
    image goes (LOAD_ADDR), whether an ELF goes where its segments say
    (ELF_AT_SEGMENTS), and a load() that takes that ``base``."""
    import inspect
    board = get_board(name)
    assert isinstance(board.LOAD_ADDR, int) and isinstance(board.ELF_AT_SEGMENTS, bool)
    assert list(inspect.signature(board.load).parameters) == ["machine", "data", "name",
                                                              "entry", "base"]


def test_an_unknown_board_is_one_line_naming_the_known_ones():
    with pytest.raises(ValueError) as e:
        get_board("nosuch")
    assert str(e.value) == f"unknown machine '-M nosuch'; expected one of: {', '.join(BOARDS)}"


def test_the_machine_takes_state_and_model_from_the_target():
    m = Machine(board="pc", cpu="286")
    target = get_board("pc").TARGET
    assert m.target is target and target.name == "x86"
    assert type(m.cpu) is type(target.new_state()) and m.model.name == "286"
    # the PC of a state: CS.base + IP, where the board enters an image
    m.load_image(b"\xf4", "hlt")
    assert target.pc(m.cpu) == 0x7C00
    m.cpu.segs[1].base, m.cpu.rip = 0x10000, 0x10
    assert target.pc(m.cpu) == 0x10010
    m.close()


def test_an_entry_outside_the_image_is_refused():
    m = Machine()
    with pytest.raises(ValueError, match="entry point 0x8000 is outside the image"):
        m.load_image(b"\xf4", "hlt", entry=0x8000)
    m.close()


def test_targets_are_found_by_name():
    """The registry the loader asks for an architecture's ELF machines
    (an EM_ARM file refused for x86: tests/unit/test_elf.py)."""
    from emu.isa import TARGETS, get_target
    assert get_target("x86") is get_board("pc").TARGET and set(TARGETS) == {"x86", "arm"}
    assert get_target("arm").elf_machines == ("EM_ARM",)
    with pytest.raises(ValueError) as e:
        get_target("vax")
    assert str(e.value) == "unknown architecture 'vax'; expected one of: x86, arm"


@pytest.mark.parametrize("accel", ["interp", "tcg", "unicorn"])
def test_x86_none_has_no_devices(accel):
    # OUT 0xF4 (the pc board's isa-debug-exit) is dropped, IN from any port
    # reads all ones, and HLT ends the run: nothing could interrupt it
    from emu.loader import assemble
    img = assemble("mov al, 1\nout 0xf4, al\nin al, 0x60\nmov bl, al\nhlt\n", "none.S")
    m = Machine(board="x86-none", accel=accel)
    try:
        m.load_image(img.data, img.name)
        r = m.run(icount_limit=100)
        assert (r.reason, r.icount) == ("halt", 5)
        assert m.cpu.regs[3] & 0xFF == 0xFF
        assert m.stats.by_reason == {"IO": 2, "HLT": 1}
        assert m.devices == {} and m.timers == []
    finally:
        m.close()
