"""Doorbell writes an engine took without an exit (KVM's ioeventfd): counted
apart from exits, shown after them, kept by the debugger's checkpoints."""

from emu.devices.device import Device, Doorbell
from emu.exits import ExitStats, IoExit
from emu.machine import Machine


def test_signals_are_not_exits_but_are_shown_after_them():
    st = ExitStats()
    st.count(IoExit(0xF4, 1, True, 0))
    assert st.summary_lines() == ["exits: IO 1"]
    st.count_signal("IO out 0xc010", 3)
    st.count_signal("IO out 0xc010", 2)
    assert st.total() == 1
    assert st.summary_lines() == ["exits: IO 1",
                                  "ioeventfd: IO out 0xc010 5 (doorbell writes without an exit)"]
    saved = st.state()
    st.count_signal("IO out 0xc010")
    st.set_state(saved)
    assert st.signalled == {"IO out 0xc010": 5}
    assert st.as_dict()["signalled"] == {"IO out 0xc010": 5}


class Bell(Device):
    region_size = 4

    def __init__(self):
        super().__init__("bell")
        self.writes = []

    def write(self, offset, size, value):
        self.writes.append((offset, size, value))

    def doorbells(self):
        return [Doorbell(2, 2, 7)]


def test_a_rung_doorbell_is_counted_logged_and_written_once(tmp_path):
    with open(tmp_path / "log", "w") as log:
        m = Machine(log=log, log_flags=("exits",))
        try:
            dev = Bell()
            m.ports.map(0x500, 4, dev)
            m.doorbell_rung("port", 0x500, dev, dev.doorbells()[0], 3)
        finally:
            m.close()
    assert dev.writes == [(2, 2, 7)]                 # merged: one write for three
    assert m.stats.signalled == {"IO out 0x502": 3}
    assert m.stats.total() == 0
    assert (tmp_path / "log").read_text() == "ioeventfd: IO out 0x502 data 0x7 signalled 3 time(s), no exit\n"
