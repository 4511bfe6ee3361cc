"""Tools watch a run through the Machine's declared hooks (DESIGN §3,
"Accelerator"): exit observers, and count_guest_time.  None of them
replaces a method of the Machine or of its engine."""

import os

import pytest

from emu.debug.session import Session
from emu.diff import _Side
from emu.loader import assemble
from emu.machine import Machine

ENGINES = ["interp", "tcg", "unicorn",
           pytest.param("kvm", marks=pytest.mark.skipif(not os.path.exists("/dev/kvm"),
                                                        reason="/dev/kvm is absent on this host"))]

# out 0xE9 (debugcon, a write), in from COM1's LSR (a read), then exit
GUEST = """
    mov al, 'k'
    out 0xe9, al
    mov dx, 0x3fd
    in al, dx
    mov al, 0
    out 0xf4, al
"""


def shadowed_methods(obj) -> list:
    """Instance attributes that hide a method of the object's class."""
    return sorted(name for name in vars(obj)
                  if callable(getattr(type(obj), name, None)))


@pytest.mark.parametrize("accel", ENGINES)
def test_observers_see_every_served_exit_and_replace_nothing(accel):
    img = assemble(GUEST)
    m = Machine(accel=accel)
    m.load_image(img.data, img.name)
    seen_a, seen_b = [], []
    m.add_exit_observer(lambda ex: seen_a.append((ex.reason, ex.port, ex.is_write, ex.data)))
    m.add_exit_observer(lambda ex: seen_b.append(ex.reason))
    m.count_guest_time()
    m.accel.set_single_step(True)
    m.accel.set_single_step(False)
    r = m.run(icount_limit=100)
    io = [e for e in seen_a if e[0] == "IO"]
    assert r.reason == "debug-exit"
    assert io == [("IO", 0xE9, True, ord("k")), ("IO", 0x3FD, False, 0x60), ("IO", 0xF4, True, 0)]
    assert len(seen_b) == len(seen_a) and seen_b[:len(io)] == [e[0] for e in seen_a][:len(io)]
    assert shadowed_methods(m) == [] and shadowed_methods(m.accel) == []
    m.close()


@pytest.mark.parametrize("accel", ["interp", "tcg"])
def test_the_debugger_and_emu_diff_leave_the_machine_and_engine_as_declared(accel):
    img = assemble(GUEST)
    m = Machine(accel=accel)
    m.load_image(img.data, img.name)
    s = Session(m, img)
    s.step(2)
    assert shadowed_methods(m) == [] and shadowed_methods(m.accel) == []
    s.close()
    side = _Side(accel, (img.data, img.entry, img.base), "pc", "max", 16 << 20, None)
    side.step()
    side.step()
    assert side.exits == [("IO", "out", 0xE9, 1, ord("k"))]
    assert shadowed_methods(side.m) == [] and shadowed_methods(side.m.accel) == []
    side.close()
    m.close()
