"""The debug adapter contract (emu.isa.debug_adapter) and x86's adapter.

The debugger and the gdb stub are generic; what they know of x86 they ask
the adapter the board's Target gives.  These tests check that the contract
is complete (x86 overrides every part of it, the Target hands it out), that
gdb's register names come from the Target's one table, and that the parts
moved out of the session behave as gdb's i386 code does: the ``g`` layouts
(checked against the byte counts gdb's own amd64/i386 cores have), ``$pc``
as the linear address, SEG:OFF only where the architecture has segments.
"""

import inspect

import pytest

from emu.debug.expr import Evaluator
from emu.debug.session import DebugError, Session
from emu.isa import get_target
from emu.isa.debug_adapter import DebugAdapter
from emu.isa.target import Target
from emu.isa.x86.debug_adapter import X86DebugAdapter
from emu.loader import assemble
from emu.machine import Machine


def contract_methods():
    return sorted(n for n, v in vars(DebugAdapter).items()
                  if inspect.isfunction(v) and not n.startswith("_"))


def test_the_contract_raises_until_an_architecture_fills_it():
    base = DebugAdapter(None, None)
    for name in contract_methods():
        fn = getattr(base, name)
        args = [None] * (len(inspect.signature(fn).parameters))
        with pytest.raises(NotImplementedError):
            fn(*args)
    with pytest.raises(NotImplementedError):
        Target().debug_adapter(None)


def test_x86_fills_every_part_of_the_contract():
    missing = [n for n in contract_methods() if getattr(X86DebugAdapter, n) is getattr(DebugAdapter, n)]
    assert not missing, f"X86DebugAdapter leaves {missing} to the contract"
    assert X86DebugAdapter.pc_names and X86DebugAdapter.segmented_address is not None


def machine_at(src="mov ax, 0x1234\nmov bx, 0x5678\nhlt\n"):
    img = assemble(src, "g.S")
    m = Machine(accel="interp")
    m.load_image(img.data, img.name)
    return m, img


def test_the_target_hands_out_its_adapter_and_the_session_uses_it():
    m, img = machine_at()
    adapter = m.target.debug_adapter(m)
    assert isinstance(adapter, DebugAdapter) and adapter.target is get_target("x86")
    s = Session(m, img)
    try:
        assert type(s.arch) is type(adapter)
        s.step(2)
        # the register file the session shows is the adapter's
        assert s.reg_values() == adapter.registers(m.cpu)
        assert s.get_register("bx") == 0x5678 and s.get_register("bh") == 0x56
    finally:
        s.close()


def test_gdb_register_names_come_from_the_targets_table():
    target = get_target("x86")
    m, _ = machine_at()
    adapter = target.debug_adapter(m)
    wide = [r[0] for r in adapter.gdb_registers("i386:x86-64")][:16]
    # gdb's amd64 order: rax rbx rcx rdx rsi rdi rbp rsp r8..r15
    assert wide[:8] == ["rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp"]
    assert sorted(wide) == sorted(target.reg_names)
    narrow = [r[0] for r in adapter.gdb_registers("i386")][:8]
    assert narrow == ["eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi"]
    # every name in a layout is one the adapter can read (or a placeholder)
    state = m.cpu
    for arch in ("i8086", "i386", "i386:x86-64"):
        for name, size, _, _ in adapter.gdb_registers(arch):
            if name not in adapter.gdb_placeholders:
                adapter.get_register(state, name)
    # gdb's i386 core: 16 registers of 4 bytes, st0-st7 of 10, 8 x87 control of 4;
    # the amd64 core: 17 of 8 (rax..r15, rip), eflags and 6 selectors of 4, the same x87
    assert sum(r[1] for r in adapter.gdb_registers("i386")[:32]) == 16 * 4 + 8 * 10 + 8 * 4
    assert sum(r[1] for r in adapter.gdb_registers("i386:x86-64")[:40]) == 17 * 8 + 7 * 4 + 8 * 10 + 8 * 4


def test_pc_is_the_linear_address_and_ip_the_offset():
    m, img = machine_at("nop\nhlt\n")
    s = Session(m, img)
    try:
        s.set_register("cs", 0x07C0)
        s.set_register("ip", 0)
        assert s.get_register("ip") == 0
        assert s.get_register("pc") == 0x7C00 == s.pc()
        assert s.insn_text() == s.arch.format_insn(s.decode()[0])
    finally:
        s.close()


def test_seg_off_is_the_architectures_own():
    regs = {}.__getitem__
    plain = Evaluator({}, regs, lambda a, n: b"\0" * n, 4)
    with pytest.raises(DebugError, match="no SEG:OFF"):
        plain.eval("0x7c0:0x10")
    x86 = Evaluator({}, regs, lambda a, n: b"\0" * n, 4, X86DebugAdapter.segmented_address)
    assert x86.eval("0x7c0:0x10").v == 0x7C10
