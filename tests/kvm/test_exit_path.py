"""The per-exit path of the KVM binding and the kvm engine: what one exit
costs in Python work, counted (not timed), and the watchdog that may sleep
between runs and must wake for the next one.  Skipped only where /dev/kvm
is absent (the call counts need a real exit)."""

import collections
import ctypes
import io
import os
import sys
import threading

import pytest

from kvm import exits as kx
from kvm.accel import _OUT_LOOP, _Watchdog
from kvm.exitbench import _counted_loop, _machine

requires_kvm = pytest.mark.skipif(not os.path.exists("/dev/kvm"),
                                  reason="/dev/kvm is absent on this host")

#: Python-level calls (functions and builtins, as sys.setprofile sees them)
#: the engine may make to serve one OUT exit, KVM_RUN included: run(),
#: Vcpu.enter(), get_ident, the ioctl, two clock reads, one unpack and the
#: IoExit.  The first kvm engine made 48 (frozen dataclasses, a ctypes
#: sub-structure per field read, two locks, the watchdog's lock per run,
#: kvm_run read for the interrupt window, the string-I/O queue for one OUT),
#: the next 21-23 (frames for each step of the turn, a lock per run, the
#: watchdog armed per run, a poll(2) of the doorbells per exit).
ENGINE_CALLS_PER_OUT = 8


def _calls_per_exit(run, n=50):
    calls = collections.Counter()

    def count(frame, event, arg):
        if event == "call":
            calls[frame.f_code.co_name] += 1
        elif event == "c_call":
            calls[arg.__name__] += 1
    sys.setprofile(count)
    try:
        for _ in range(n):
            ex = run()
    finally:
        sys.setprofile(None)
    del calls["setprofile"], calls["<lambda>"]      # the measurement's own
    return calls, ex


@requires_kvm
@pytest.mark.parametrize("ioeventfd", ["on", "off"])
def test_engine_serves_an_out_exit_within_its_call_budget(ioeventfd):
    m = _machine(_OUT_LOOP, ioeventfd)
    try:
        acc = m.accel
        for _ in range(2):      # warm: the doorbells' state and port 0x80's want of a device known
            acc.run(None)
        calls, ex = _calls_per_exit(lambda: acc.run(None))
        assert (ex.reason, ex.port, ex.is_write, ex.size) == ("IO", 0x80, True, 1)
        assert sum(calls.values()) / 50 <= ENGINE_CALLS_PER_OUT, calls
        # KVM_RUN through a builtin (fcntl.ioctl, no ctypes call), once per exit;
        # no poll(2) of the doorbells (none is armed: the console is not set up)
        assert calls["ioctl"] == 50 and calls["poll"] == 0, calls
        assert acc.stats()["kvm_exits"]["IO"] == 52      # named, not numbered
        assert acc.stats()["kvm_runs"] == 52
    finally:
        m.close()


#: Python-level calls Machine.run() may make per exit of a guest doing
#: OUT 0x80 in a loop (no device: every exit goes back to the Machine's
#: loop), the engine's included: the loop's turn, the timers (the PIT is
#: armed), the exit counted and served on the bus.  It made 26: the exit
#: counted through ExitStats.count, and the watchdog re-armed at every exit
#: whose timer budget gave another time slice (a third of them).
MACHINE_CALLS_PER_OUT = 23


@requires_kvm
def test_machine_run_serves_an_out_exit_within_its_call_budget():
    n = 2000
    m = _machine(_counted_loop(0x80, 1, 0, n))
    try:
        calls = collections.Counter()

        def count(frame, event, arg):
            if event == "call":
                calls[frame.f_code.co_name] += 1
            elif event == "c_call":
                calls[arg.__name__] += 1
        sys.setprofile(count)
        try:
            r = m.run()
        finally:
            sys.setprofile(None)
        assert r.reason == "debug-exit"
        assert m.stats.by_key["IO out 0x80"] == n and m.stats.by_reason["IO"] == n + 1
        assert m.ports.unassigned_writes == n
        assert calls["ioctl"] >= n + 1
        assert sum(calls.values()) / n <= MACHINE_CALLS_PER_OUT, calls.most_common(30)
    finally:
        m.close()


@requires_kvm
def test_a_timer_budget_rearms_the_watchdog_once_a_min_slice_not_at_every_exit():
    """The PIT's deadline gives every turn of Machine.run() a budget a few
    microseconds shorter than the last; the slice armed is in whole
    min_slices, so the watchdog is armed again only when that changes (it
    was at 594 of 2000 exits)."""
    n = 2000
    m = _machine(_counted_loop(0x80, 1, 0, n))
    try:
        assert m.next_timer_deadline() is not None      # the PIT counts: runs have a budget
        r = m.run()
        assert r.reason == "debug-exit" and m.stats.by_reason["IO"] == n + 1
        assert m.accel._watchdog._arms <= n // 10, m.accel._watchdog._arms
    finally:
        m.close()


def _scratch_loop(n: int) -> bytes:
    """mov cx, n; mov dx, 0x3ff; l: mov al, cl; out dx, al; in al, dx;
    loop l; mov al, 0x5a; out dx, al; in al, dx; out 0xf4, al: N writes and
    reads of COM1's scratch register, then isa-debug-exit with the value
    read back."""
    return bytes([0xB9, n & 0xFF, n >> 8, 0xBA, 0xFF, 0x03,
                  0x88, 0xC8, 0xEE, 0xEC, 0xE2, 0xFA,
                  0xB0, 0x5A, 0xEE, 0xEC, 0xE6, 0xF4])


@requires_kvm
def test_a_quiet_device_port_is_served_inside_the_engines_loop():
    """QEMU's kvm_cpu_exec() serves KVM_EXIT_IO without leaving its loop; so
    does the engine when the device takes the access quietly: the UART
    scratch register's 2N+2 accesses are counted as IO exits exactly as
    before, the IN reads what the OUT wrote, and (but the first) none of
    them went back to the Machine's loop; with -d exits each one does."""
    n = 300
    m = _machine(_scratch_loop(n))
    try:
        r = m.run()
        assert (r.reason, r.status) == ("debug-exit", (0x5A << 1) | 1)
        assert m.stats.by_key["IO out 0x3ff"] == n + 1
        assert m.stats.by_key["IO in 0x3ff"] == n + 1
        # (the run's first exit goes back: whether a doorbell is armed is not known yet)
        assert 2 * n <= m.accel.stats()["io_served_in_engine"] <= 2 * n + 2
    finally:
        m.close()
    from emu.machine import Machine
    m = Machine("pc", "kvm", memory=1 << 20, log=io.StringIO(), log_flags=["exits"])
    m.load_image(_scratch_loop(n))
    try:
        r = m.run()
        assert (r.reason, r.status) == ("debug-exit", (0x5A << 1) | 1)
        assert m.stats.by_key["IO out 0x3ff"] == n + 1
        assert m.accel.stats()["io_served_in_engine"] == 0
    finally:
        m.close()


@requires_kvm
def test_vcpu_run_decodes_the_io_exit_from_kvm_run():
    m = _machine(_OUT_LOOP)
    try:
        vcpu = m.accel.vcpu
        m.accel.run(None)
        kex = vcpu.run()
        io = vcpu.kvm_run.io          # the ctypes view the decoder bypasses
        assert type(kex) is kx.IoOut
        assert (kex.port, kex.size, kex.count) == (io.port, io.size, io.count) == (0x80, 1, 1)
        base = ctypes.addressof(vcpu.kvm_run)
        assert bytes(kex.data) == ctypes.string_at(base + io.data_offset, 1)
    finally:
        m.close()


class _CountingVcpu:
    def __init__(self):
        self.kicked = threading.Event()
        self.entries = 0
        self.running = False

    def kick(self):
        self.kicked.set()


def test_watchdog_asleep_after_idle_wakes_for_the_next_armed_run():
    vcpu = _CountingVcpu()
    wd = _Watchdog(vcpu, lambda: vcpu.entries)
    try:
        wd.arm(0.001)
        deadline = threading.Event()
        for _ in range(2000):         # IDLE_TICKS looks of 1 ms, then it sleeps
            if not wd._armed:
                break
            deadline.wait(0.005)
        assert not wd._armed, "the watchdog never went to sleep"
        assert not vcpu.kicked.is_set()
        wd.arm(0.001)                 # what run() does before KVM_RUN
        vcpu.entries += 1
        vcpu.running = True           # a run that does not return by itself
        assert vcpu.kicked.wait(30), "an armed run was left without a watchdog"
        assert wd.kicks >= 1
    finally:
        vcpu.running = False
        wd.close()


@requires_kvm
def test_a_closed_vcpu_says_so_on_run_and_enter():
    m = _machine(_OUT_LOOP)
    vcpu = m.accel.vcpu
    m.close()
    for call in (vcpu.run, vcpu.enter):
        with pytest.raises(ValueError, match="Vcpu is closed"):
            call()
    assert not vcpu.running


@requires_kvm
def test_kicks_from_another_thread_during_many_runs_each_end_a_run_and_none_hangs():
    """The kick handshake without a lock per run: a thread kicking while the
    vCPU enters and leaves KVM_RUN thousands of times (the OUT loop) makes
    runs end in Intr, and neither side waits for ever."""
    m = _machine(_OUT_LOOP)
    try:
        vcpu = m.accel.vcpu
        m.accel.run(None)
        done = threading.Event()
        kicks = []

        def kicker():
            while not done.is_set() and len(kicks) < 500:
                vcpu.kick()
                kicks.append(1)
        t = threading.Thread(target=kicker, daemon=True)
        t.start()
        intr = sum(type(vcpu.run()) is kx.Intr for _ in range(20000))
        done.set()
        t.join(10)
        assert not t.is_alive(), "a kick() never returned"
        assert intr >= 1 and not vcpu.running
        vcpu.immediate_exit = False
    finally:
        m.close()
