"""The objects the interpreter reads on every instruction -- the engine, the
core and the core's Ops -- stay on CPython's fast attribute path.

An instance's attributes are read quickly while they are declared
(``__slots__``) or while its dictionary shares its keys with the class's
other instances; CPython stops sharing from the 30th key on, and every
attribute read of that object then takes the slow path (the x86 Ops had 30
and the interpreter lost ~10% on every guest)."""

import pytest

from emu.machine import Machine

#: an instance dictionary with this many keys or more is off the fast path
SHARED_KEYS_LIMIT = 30


def _hot_objects(machine):
    core = machine.accel.core
    return {"engine": machine.accel, "core": core, "ops": core.ops, "state": core.s}


@pytest.mark.parametrize("board", ["pc", "virt"])
def test_hot_objects_have_few_instance_attributes(board):
    accel = "interp"
    m = Machine(board=board, accel=accel, memory=1 << 20)
    try:
        for name, obj in _hot_objects(m).items():
            if hasattr(obj, "__dict__"):
                n = len(vars(obj))
                assert n < SHARED_KEYS_LIMIT, (
                    f"{board}/{accel}: the {name} ({type(obj).__name__}) has {n} instance "
                    f"attributes; declare them (__slots__) or keep them under {SHARED_KEYS_LIMIT}")
    finally:
        m.close()


def test_x86_ops_attributes_are_declared():
    """x86's Ops is read most of all: its attributes are slots, and setting
    an undeclared one is an error, not a silent slowdown."""
    m = Machine(board="pc", accel="interp", memory=1 << 20)
    try:
        ops = m.accel.core.ops
        assert not hasattr(ops, "__dict__")
        with pytest.raises(AttributeError):
            ops.undeclared = 1
    finally:
        m.close()
