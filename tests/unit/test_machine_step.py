"""Machine.step: one instruction through the run loop's exit serving (the
debugger's and the step bench's way to step), without a run's set-up."""

import os
import re

import pytest

from emu.loader import assemble
from emu.machine import Machine

ENGINES = ["interp", "tcg", "unicorn",
           pytest.param("kvm", marks=pytest.mark.skipif(not os.path.exists("/dev/kvm"),
                                                        reason="/dev/kvm is absent on this host"))]
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# a write to the debug console, isa-debug-exit (the device asks to stop at
# the OUT), then two more instructions
GUEST = """
    mov al, 'k'
    out 0xe9, al
    mov al, 1
    out 0xf4, al
    mov bx, 0x1234
    mov cx, 0x5678
    hlt
"""


def stepping_machine(accel):
    img = assemble(GUEST)
    m = Machine(accel=accel)
    m.load_image(img.data, img.name)
    m.count_guest_time()
    m.accel.set_single_step(True)
    return m


@pytest.mark.parametrize("accel", ENGINES)
def test_a_step_serves_its_exits_and_one_that_ended_early_owes_nothing(accel):
    m = stepping_machine(accel)
    seen = []
    m.add_exit_observer(lambda ex: seen.append(ex.reason))
    try:
        assert [m.step().reason for _ in range(2)] == ["debug", "debug"]
        assert m.serial_output() == b"k" and m.stats.by_reason["IO"] == 1
        assert m.step().reason == "debug"               # mov al, 1
        r = m.step()                                    # out 0xf4: the device stops the run
        assert (r.reason, r.status) == ("debug-exit", 3)
        # the step's DEBUG exit (KVM: the I/O completion) was collected with
        # it: the next step retires exactly the next instruction
        before = m.accel.icount
        assert m.step().reason == "debug"
        m.accel.sync_state()
        assert m.accel.icount == before + 1
        assert m.cpu.regs[3] & 0xFFFF == 0x1234 and m.cpu.regs[1] & 0xFFFF != 0x5678
        assert seen.count("IO") == 2
    finally:
        m.close()


@pytest.mark.parametrize("accel", ["interp", "tcg"])
def test_a_stop_request_is_a_step_of_nothing(accel):
    m = stepping_machine(accel)
    try:
        m.request_stop()
        before = m.accel.icount
        assert m.step().reason == "stopped"
        assert m.accel.icount == before
        assert m.step().reason == "debug" and m.accel.icount == before + 1
    finally:
        m.close()


def test_stepping_needs_a_single_stepping_engine():
    img = assemble(GUEST)
    m = Machine(accel="interp")
    m.load_image(img.data, img.name)
    with pytest.raises(RuntimeError, match="not single-stepping"):
        m.step()
    m.close()


def test_the_debugger_serves_no_exit_itself():
    # every exit is served by the Machine (run, step): the debugger never
    # runs the engine and dispatches what it returned
    path = os.path.join(REPO, "emu", "debug")
    for f in sorted(os.listdir(path)):
        if f.endswith(".py"):
            text = open(os.path.join(path, f)).read()
            assert not re.search(r"\.dispatch_exit\(|accel\.run\(", text), f


class _Stopper:
    """An object on the port bus that is no Device: it has a
    ``stop_request`` and tells no one when it sets it."""

    name = "stopper"

    def __init__(self):
        from emu.devices.device import StopRequest
        self.stop_request = None
        self._req = StopRequest(9, "stopper")

    def read(self, offset, size):
        return 0

    def write(self, offset, size, value):
        self.stop_request = self._req


@pytest.mark.parametrize("kind", ["device", "plain object"])
def test_a_stop_from_a_device_put_in_after_the_board_was_built_ends_the_run(kind):
    """machine.devices is the Machine's: a device put in later (a grader's
    catch-all, a test's) is asked for stop requests too -- a Device tells
    the Machine as it makes one, any other object is looked at."""
    from emu.devices.debug_exit import IsaDebugExit
    m = Machine(accel="interp")
    dev = IsaDebugExit() if kind == "device" else _Stopper()
    m.ports.map(0x500, 1, dev)
    m.devices["late"] = dev
    img = assemble("mov dx, 0x500\nmov al, 4\nout dx, al\nhlt\n", "late.S")
    m.load_image(img.data, img.name, img.entry)
    r = m.run(icount_limit=100)
    assert (r.reason, r.status) == ("debug-exit", 9)      # isa-debug-exit: (4 << 1) | 1
    assert m.devices["late"].stop_request is None and not m.stop_pending()
