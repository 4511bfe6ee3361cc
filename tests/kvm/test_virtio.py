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


def test_the_console_doorbells_are_armed_only_while_a_transmitq_notification_does_work():
    from emu.devices.virtio_console import (DEVICE_NEEDS_RESET, DEVICE_STATUS, DRIVER_OK,
                                            QUEUE_PFN, QUEUE_SEL, TRANSMITQ, VirtioConsole)
    from emu.memory import Ram
    dev = VirtioConsole(Ram(1 << 20))
    assert not dev.doorbells_armed                      # reset: no queue, no driver
    dev.write(QUEUE_SEL, 2, TRANSMITQ)
    dev.write(QUEUE_PFN, 4, 0x10)
    assert not dev.doorbells_armed                      # the driver is not ready yet
    dev.write(DEVICE_STATUS, 1, DRIVER_OK)
    assert dev.doorbells_armed
    dev.status |= DEVICE_NEEDS_RESET                    # a broken ring: nothing more is done
    assert not dev.doorbells_armed
    dev.write(DEVICE_STATUS, 1, 0)                      # reset
    assert not dev.doorbells_armed


def _doorbells_then_outs(notifications, outs):
    """mov cx, N; mov dx, 0xc010; mov ax, 1; l1: out dx, ax; loop l1;
    mov cx, M; l2: out 0x80, al; loop l2; mov al, 0; out 0xf4, al"""
    return bytes([0xB9, notifications & 0xFF, notifications >> 8, 0xBA, 0x10, 0xC0,
                  0xB8, 0x01, 0x00, 0xEF, 0xE2, 0xFD,
                  0xB9, outs & 0xFF, outs >> 8, 0xE6, 0x80, 0xE2, 0xFC,
                  0xB0, 0x00, 0xE6, 0xF4])


@requires_kvm
def test_kvm_holds_unarmed_doorbells_without_a_poll_per_exit_and_counts_them_all():
    """The console is never set up, so its doorbells are not armed: the
    engine looks for their writes at the end of the run, not at each of the
    200 OUT exits after them, and every write is counted all the same."""
    import collections
    import sys
    m = Machine(accel="kvm")
    try:
        m.load_image(_doorbells_then_outs(300, 200))
        polls = collections.Counter()

        def count(frame, event, arg):
            if event == "c_call" and arg.__name__ == "poll":
                polls["poll"] += 1
        sys.setprofile(count)
        try:
            r = m.run(time_limit=60)
        finally:
            sys.setprofile(None)
        assert r.reason == "debug-exit"
        assert m.stats.by_reason == {"IO": 201}
        assert m.stats.signalled == {NOTIFY: 300}
        assert m.devices["virtio-console"].notifications >= 1
        assert polls["poll"] <= 3, polls            # not one per exit (201)
    finally:
        m.close()
