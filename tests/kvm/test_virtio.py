"""Lab 8's virtio console guests on every engine, and ioeventfd on KVM.

The guests (tutorials/08-virtio: ``notify.S`` one notification per
message, ``batch.S`` one per 16) send 1024 messages "message NN", NN =
their number mod 100, through the transmitq, whose 128 entries they wait
to see used (a HLT, woken by IRQ 11) when it is full.  The expected output and notification counts come from that
description, not from a run.  KVM tests are skipped only where /dev/kvm is
absent.
"""

import os

import pytest

from emu.loader import load_guest
from emu.machine import Machine

LAB = os.path.join(os.path.dirname(__file__), "..", "..", "tutorials", "08-virtio")
EXPECTED = b"".join(b"message %02d\n" % (i % 100) for i in range(1024))
NOTIFY = "IO out 0xc010"            # the key of a QueueNotify write (port 0xC000 + 0x10)
NOTIFICATIONS = {"notify.S": 1024, "batch.S": 64}
FULL_RINGS = 1024 // 128              # sleeps when every doorbell is taken without an exit

requires_kvm = pytest.mark.skipif(not os.path.exists("/dev/kvm"),
                                  reason="/dev/kvm is absent on this host")


def run(guest, accel="interp", log=None, **options):
    img = load_guest(os.path.join(LAB, guest))
    m = Machine(accel=accel, accel_options=options, log=log, log_flags=("exits",) if log else ())
    try:
        m.load_image(img.data, img.name, img.entry)
        r = m.run(icount_limit=None if accel == "kvm" else 5_000_000, time_limit=120)
        return r, m.serial_output(), m.stats, m.accel.stats()
    finally:
        m.close()


@pytest.mark.parametrize("guest", sorted(NOTIFICATIONS))
@pytest.mark.parametrize("accel", ["interp", "tcg", "unicorn"])
def test_software_engines_print_the_messages_with_one_exit_per_notification(accel, guest):
    r, out, stats, _ = run(guest, accel)
    assert (r.reason, r.status) == ("debug-exit", 1), r.message
    assert out == EXPECTED
    assert stats.by_key[NOTIFY] == NOTIFICATIONS[guest]
    assert stats.signalled == {}
    assert stats.by_reason.get("HLT", 0) == 0       # each buffer is used at its notification


@requires_kvm
@pytest.mark.parametrize("guest", sorted(NOTIFICATIONS))
def test_kvm_without_ioeventfd_exits_at_every_notification(guest):
    r, out, stats, engine = run(guest, "kvm", ioeventfd="off")
    assert (r.reason, r.status) == ("debug-exit", 1), r.message
    assert out == EXPECTED
    assert stats.by_key[NOTIFY] == NOTIFICATIONS[guest]
    assert stats.signalled == {} and engine["ioeventfd_signals"] == 0


@requires_kvm
@pytest.mark.parametrize("guest", sorted(NOTIFICATIONS))
def test_kvm_with_ioeventfd_takes_notifications_without_exits(guest):
    r, out, stats, engine = run(guest, "kvm")        # ioeventfd=on is the default
    assert (r.reason, r.status) == ("debug-exit", 1), r.message
    assert out == EXPECTED
    assert stats.by_key.get(NOTIFY, 0) == 0
    assert stats.signalled == {NOTIFY: NOTIFICATIONS[guest]}
    assert engine["ioeventfd"] == "on" and engine["ioeventfd_signals"] == NOTIFICATIONS[guest]
    # the device works when the driver waits: at its HLTs (one per full
    # ring), woken by IRQ 11, whose handler reads ISR; fewer if a time slice
    # ended while the guest was sending, and the device worked there
    assert stats.by_reason.get("HLT", 0) == stats.by_key.get("IO in 0xc013", 0) <= FULL_RINGS


@requires_kvm
def test_kvm_stepped_by_d_exits_takes_doorbells_without_exits_too(tmp_path):
    """-d exits single-steps KVM: the steps must not count as exits at which
    doorbells are served (a free run has none there), so the doorbells still
    cost no exit and every sleep is still woken by the device's IRQ."""
    with open(tmp_path / "exits.log", "w") as log:
        _, out, stepped, _ = run("notify.S", "kvm", log=log)
    assert out == EXPECTED
    assert stepped.by_key.get(NOTIFY, 0) == 0
    assert stepped.signalled == {NOTIFY: NOTIFICATIONS["notify.S"]}
    assert stepped.by_reason.get("HLT", 0) == stepped.by_key.get("IO in 0xc013", 0) <= FULL_RINGS
    text = (tmp_path / "exits.log").read_text()
    assert "ioeventfd: IO out 0xc010 data 0x1 signalled " in text
    assert "exit: IO out port 0xc010" not in text


@requires_kvm
def test_kvm_rejects_an_unknown_property_value():
    with pytest.raises(ValueError, match=r"-accel kvm,ioeventfd=maybe: expected ioeventfd=on\|off"):
        Machine(accel="kvm", accel_options={"ioeventfd": "maybe"})
