"""``KvmAccelerator``: the Machine's guest on the host CPU, through /dev/kvm.

This is kasou's counterpart of QEMU's ``accel/kvm/kvm-all.c``:
``run()`` is one turn of ``kvm_cpu_exec()``:

    kvm_arch_put_registers   -> _push()        (only if state_changed())
    kvm_arch_pre_run         -> _inject_interrupt(), guest-debug set-up
    ioctl(KVM_RUN)           -> Vcpu.run()
    kvm_arch_post_run        -> exit bookkeeping, timing
    switch (run->exit_reason)-> _translate(): a kvm.exits kind becomes an
                                emu.exits kind for the Machine's run loop
    cpu_synchronize_state    -> sync_state()   (pull: KVM_GET_REGS/SREGS)

Guest RAM is the Machine's own anonymous mmap, registered as memory slot 0
with KVM_SET_USER_MEMORY_REGION (no copy).  The vCPU gets the host's
supported CPUID (KVM_SET_CPUID2), so a guest can switch to long mode itself.

State.  The canonical ``X86State`` converts exactly to and from
``kvm_regs``/``kvm_sregs`` (:func:`state_to_kvm`, :func:`kvm_to_state`): all
sixteen GPRs, RIP, RFLAGS, the eight segment registers with every hidden
field, GDTR/IDTR, CR0/2/3/4/8 and EFER.  ``apic_base`` and the pending
interrupt bitmap are left as KVM has them.  Sync is lazy, as in QEMU: state is
pushed before KVM_RUN only after ``state_changed()``, and pulled only by
``sync_state()``.  After a push the special registers are read back: a value
KVM silently dropped (this host drops CR0.PG outside long mode) becomes a
FAIL_ENTRY exit with a one-line explanation, as does a state KVM_SET_SREGS
refuses.

An I/O or MMIO instruction only completes on the next KVM_RUN (api.rst §5).
Before state is pulled or pushed, and when single-stepping, that completion
is forced with a KVM_RUN that has ``immediate_exit`` set: KVM finishes the
instruction with the data the Machine supplied and returns at once, so the
pulled RIP is past the instruction, as on the interpreter.

Exits.  IO → ``IoExit``; for IN the Machine stores the value in
``exit.data`` and the next ``run()`` copies it into kvm_run's data page.
String I/O (INS/OUTS, ``count`` > 1 in one KVM exit) is split into ``count``
one-element ``IoExit``s served from Python before KVM_RUN is entered again,
so the Machine's exit counts equal the interpreter's (which exits once per
REP iteration); the KVM-level count in :meth:`stats` shows the single
exit.  MMIO, HLT, SHUTDOWN (explained: mode, CS:IP, the bytes there),
FAIL_ENTRY, INTERNAL_ERROR (sub-codes decoded; an emulation failure is
named with the mnemonic, disassembled by capstone in the guest's mode),
DEBUG, SYSTEM_EVENT and IRQ_WINDOW_OPEN map one to one.  Any other KVM exit
is an INTERNAL_ERROR "unsupported exit N".

Budget.  KVM cannot count instructions (``exact_icount = False``):

* single-stepping (``single_step``, more than four breakpoints, or ``-d exits``,
  which logs the instruction of each exit): every
  instruction is one KVM_RUN with KVM_GUESTDBG_SINGLESTEP, so ``icount`` is
  exact and ``budget`` is honoured exactly;
* free running: ``budget`` None runs until an exit; otherwise ``budget`` is
  turned into a wall-clock slice of ``budget / assumed_ips`` seconds
  (clamped to [``min_slice``, ``max_slice``], in whole ``min_slice`` steps
  rounded down), after which a watchdog thread
  calls ``Vcpu.kick()`` (immediate_exit + SIGUSR1: how QEMU kicks a vCPU
  thread) and ``run()`` returns a BUDGET exit.  ``icount`` then grows by an
  ESTIMATE: seconds spent inside KVM_RUN times ``assumed_ips``;
  ``stats()['icount_exact']`` holds the exactly counted part;
* ``-icount-limit`` (:meth:`count_exactly`): up to ``max_exact_count`` the
  run is single-stepped, so the limit is exact; above it, it is the time
  estimate above, and the Machine's message says so.

Stopping (:meth:`request_stop`, e.g. on Ctrl-C): a signal sent to the
process interrupts KVM_RUN (EINTR) in the thread that runs the vCPU -- the
watchdog thread blocks the asynchronous signals so that it is never the one
to get it -- and ``immediate_exit`` keeps the next KVM_RUN from entering the
guest; from another thread the vCPU is kicked.  ``run()`` then returns a
BUDGET exit.  A signal that comes between the last look at the flag and the
guest entry interrupts nothing, so a run without a budget is also kicked
every ``stop_check_slice`` seconds and looks again.

Host limits: :meth:`host_notes` lists the departures from the SDM that
:mod:`kvm.probe` found on this host (cached per boot) for the mode the guest
stopped in, for the notes ``emu run`` prints after an abnormal end.

Debugging (KVM_SET_GUEST_DEBUG).  Up to four breakpoints are hardware
execution breakpoints (DR0-DR3, DR7); they fire before the instruction.
To resume from one, the instruction is single-stepped with the breakpoints
disarmed (as gdbserver does) rather than with RFLAGS.RF, which was not
verified on kvm_pvm.  With more than four, the guest is single-stepped and every
PC compared in Python (slow but exact).  While single-stepping, breakpoints
are always checked in Python.  Host quirks handled (reference §1.8): a
single step across an OUT that exits is "merged" with the next instruction
by kvm_pvm, so the step of an I/O instruction is completed with an
``immediate_exit`` run and reported from Python; a single step over HLT
reports DEBUG on kvm_pvm (HLT on VMX), and both are reported as HLT followed
by a step, as the interpreter does.  Software breakpoints (int3) are not
used: kvm_pvm reports them as INTERNAL_ERROR.

Doorbells (ioeventfd, api.rst §4.59 KVM_IOEVENTFD).  A device names the
registers whose writes only say "look at your queues"
(:meth:`~emu.devices.device.Device.doorbells`: a virtio QueueNotify, with
the queue index as the value).  With ``ioeventfd=on`` (``-accel
kvm,ioeventfd=on``, the default, as QEMU's ``-device
virtio-...,ioeventfd=``) each is registered with KVM_IOEVENTFD (PIO or MMIO,
``datamatch`` = the value), so the guest's write completes inside KVM
without an exit and only increments an eventfd.  When ``run()`` returns an
exit (HLT above all: a driver that notified and waits), and at the
watchdog's kicks of a free run, the eventfds are read without blocking
(one poll(2)) and each that was signalled is handed to the device as one
write (:meth:`Machine.doorbell_rung`, which counts it in ``machine.stats``
as signalled, not as an exit) -- except at a port exit to a device without
doorbells while no doorbell is armed (``Device.doorbells_armed``: a write
would only be counted) and nothing logs: then the writes wait in their
eventfds until the next other exit or ``sync_state()`` (which ends every
run), and are handed over and counted all the same, before the device's
own registers are next reached.  QEMU reads them in its main loop, in another
thread, while the vCPU runs on; kasou has one thread, so the device works at
the next exit.  Single steps (``-d exits`` steps the guest) are not exits the
guest caused, so a stepped run serves doorbells at exits only, as a free run
does (being slower, it meets more ends of time slices).  ``ioeventfd=off``:
the write is an IO exit like any other.  A device's interrupt goes through
kasou's 8259 in user space; irqfd (KVM_IRQFD) would need KVM's in-kernel
irqchip, which kasou does not use, so the interrupt is injected as every
other (:meth:`_inject_interrupt`).

Statistics: exits by reason and port come from the Machine
(``machine.stats``); :meth:`stats` adds KVM-level exit counts and the time
spent inside KVM_RUN, and with ``-accel kvm,timing=on`` (two more clock
reads per exit) the time between KVM_RUNs split into this accelerator's
Python and the rest (the Machine and devices).

The exit path (``emu bench --kvm-exit``, ``docs/kvm-host.md``): KVM_RUN is
``fcntl.ioctl`` without an argument (:meth:`Vcpu.enter`), one port access is
read from ``struct kvm_run`` with one unpack into the Machine's ``IoExit``,
and the turn after one, with nothing else changed, goes straight back to
KVM_RUN; everything else before a KVM_RUN is :meth:`_prologue`.
:func:`measure_exit_cost` times the bare PIO exit round trip for ``emu
bench``.

Deliberate gaps: FPU/SSE state and MSRs other than EFER are not part of the
canonical state and stay as KVM has them; one vCPU only.
"""

from __future__ import annotations

import collections
import os
import select
import statistics
import struct
import threading
import time

from emu.accel.base import AccelUnavailable, Accelerator
from emu.quiet import declined
from emu.exits import (BudgetExit, DebugExit, FailEntryExit, HltExit,
                       InternalErrorExit, IoExit, IrqWindowExit, MmioExit,
                       ShutdownExit, SystemEventExit, mark_source)
from emu.isa.x86.state import (CR0_PE, CR0_PG, CS, EFER_LMA, REG_NAMES64,
                               SEG_NAMES, Segment)

from . import exits as kx
from . import uapi
from .errors import KvmError, explain_sregs
from .exits import IO_HEAD
from .system import Kvm
from .vcpu import MAX_HW_BREAKPOINTS, block_async_signals

_clock = time.perf_counter
_IO_HEAD = IO_HEAD.unpack_from
#: the guest-debug configuration of a free run without breakpoints
_FREE_RUN = (False, ())
#: seconds after a KVM_RUN within which the watchdog is surely awake
#: (_Watchdog.IDLE_TICKS looks of at least min_slice: 20 ms)
_WATCHED = 0.01

#: kvm_regs field order, as indices into the canonical ``regs[16]``
_KVM_GPRS = ("rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rsp", "rbp",
             "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15")
_GPR_INDEX = tuple((name, REG_NAMES64.index(name)) for name in _KVM_GPRS)
_SEG_FIELDS = ("base", "limit", "selector", "type", "present", "dpl", "db",
               "s", "l", "g", "avl", "unusable")
_CONTROL = ("cr0", "cr2", "cr3", "cr4", "cr8", "efer")
_RFLAGS_TF = 1 << 8
_RFLAGS_IF = 1 << 9
_RFLAGS_VM = 1 << 17
_HLT = 0xF4
_MSR_STAR, _MSR_LSTAR = 0xC0000081, 0xC0000082
_LEGACY_PREFIXES = frozenset((0x26, 0x2E, 0x36, 0x3E, 0x64, 0x65, 0x66,
                              0x67, 0xF0, 0xF2, 0xF3))
#: the kvm.exits kinds the Machine answers (IN, MMIO read)
_REPLIED = (kx.IoIn, kx.MmioRead)
_KVM_EXIT_IO, _KVM_EXIT_INTR, _IO_OUT = uapi.KVM_EXIT_IO, uapi.KVM_EXIT_INTR, uapi.KVM_EXIT_IO_OUT
#: one IO element of 1, 2 or 4 bytes in the PIO data page, by size:
#: read with ``_IO_UNPACK[size](view, offset)``, written with
#: ``_IO_PACK[size](view, offset, value)`` (no slice of the mmap per exit)
_IO_FORMATS = (None, struct.Struct("<B"), struct.Struct("<H"), None, struct.Struct("<I"))
_IO_UNPACK = tuple(f and f.unpack_from for f in _IO_FORMATS)
_IO_PACK = tuple(f and f.pack_into for f in _IO_FORMATS)
#: ``_pending`` of one OUT or IN read straight from kvm_run (no kvm.exits
#: object): the IN's exit, whose ``data`` is the reply, is in ``_io_in``
_ONE_OUT, _ONE_IN = ("one OUT",), ("one IN",)
_EVENT_NAMES = {uapi.KVM_SYSTEM_EVENT_SHUTDOWN: "SHUTDOWN",
                uapi.KVM_SYSTEM_EVENT_RESET: "RESET",
                uapi.KVM_SYSTEM_EVENT_CRASH: "CRASH"}


# ---------------------------------------------------------------------------
# canonical state <-> kvm_regs / kvm_sregs
# ---------------------------------------------------------------------------

def _seg_to_kvm(seg, out):
    for name in _SEG_FIELDS:
        setattr(out, name, getattr(seg, name))


def _seg_from_kvm(ks):
    return Segment(selector=ks.selector, base=ks.base, limit=ks.limit,
                   type=ks.type, s=ks.s, dpl=ks.dpl, present=ks.present,
                   db=ks.db, l=ks.l, g=ks.g, avl=ks.avl,
                   unusable=ks.unusable)


def state_to_kvm(state, sregs=None):
    """``(kvm_regs, kvm_sregs)`` for a canonical ``X86State``.

    ``sregs`` (optional) supplies what the canonical state does not hold:
    ``apic_base`` and ``interrupt_bitmap`` are copied from it.
    """
    regs = uapi.kvm_regs()
    for name, index in _GPR_INDEX:
        setattr(regs, name, state.regs[index])
    regs.rip = state.rip
    regs.rflags = state.rflags
    out = uapi.kvm_sregs()
    if sregs is not None:
        out.apic_base = sregs.apic_base
        out.interrupt_bitmap[:] = sregs.interrupt_bitmap[:]
    for i, name in enumerate(SEG_NAMES):
        _seg_to_kvm(state.segs[i], getattr(out, name))
    _seg_to_kvm(state.ldt, out.ldt)
    _seg_to_kvm(state.tr, out.tr)
    out.gdt.base, out.gdt.limit = state.gdt_base, state.gdt_limit
    out.idt.base, out.idt.limit = state.idt_base, state.idt_limit
    for name in _CONTROL:
        setattr(out, name, getattr(state, name))
    return regs, out


def kvm_to_state(regs, sregs, state):
    """Write ``kvm_regs``/``kvm_sregs`` into a canonical ``X86State``."""
    for name, index in _GPR_INDEX:
        state.regs[index] = getattr(regs, name)
    state.rip = regs.rip
    state.rflags = regs.rflags
    for i, name in enumerate(SEG_NAMES):
        state.segs[i] = _seg_from_kvm(getattr(sregs, name))
    state.ldt = _seg_from_kvm(sregs.ldt)
    state.tr = _seg_from_kvm(sregs.tr)
    state.gdt_base, state.gdt_limit = sregs.gdt.base, sregs.gdt.limit
    state.idt_base, state.idt_limit = sregs.idt.base, sregs.idt.limit
    for name in _CONTROL:
        setattr(state, name, getattr(sregs, name))


def _mode_of(sregs):
    """'real', 'prot16', 'prot32', 'compat' or 'long64' (for messages)."""
    if not sregs.cr0 & CR0_PE:
        return "real"
    if sregs.efer & EFER_LMA:
        return "long64" if sregs.cs.l else "compat"
    return "prot32" if sregs.cs.db else "prot16"


_MODE_WORDS = {"real": "real mode", "prot16": "16-bit protected mode",
               "prot32": "32-bit protected mode",
               "compat": "compatibility mode", "long64": "64-bit long mode"}


def disassemble(code, mode, address=0):
    """``(mnemonic, text)`` of the first instruction in ``code``.

    ``mode`` is a mode name from ``_mode_of``.  capstone is imported here so
    that importing this module needs nothing but the binding.
    """
    import capstone
    cs_mode = {"real": capstone.CS_MODE_16, "prot16": capstone.CS_MODE_16,
               "long64": capstone.CS_MODE_64}.get(mode, capstone.CS_MODE_32)
    md = capstone.Cs(capstone.CS_ARCH_X86, cs_mode)
    for insn in md.disasm(bytes(code), address, 1):
        text = f"{insn.mnemonic} {insn.op_str}".strip()
        return insn.mnemonic.upper(), text
    return None, "(undecodable)"


# ---------------------------------------------------------------------------
# the watchdog that turns a budget into a time slice
# ---------------------------------------------------------------------------

class _Watchdog:
    """Kicks a vCPU that stays inside one KVM_RUN longer than a slice.

    ``progress()`` (the accelerator's time inside KVM_RUN, which grows after
    every KVM_RUN) and ``Vcpu.running`` (a KVM_RUN under way) tell it what
    the vCPU does: no timer object and no store per run.  Every ``slice`` seconds the thread looks: the
    same run still in progress as at the last look has lasted at least one
    slice, and the vCPU is kicked, so a slice ends between one and two
    slices after it started.  After
    ``IDLE_TICKS`` looks with no run and no ``arm()`` the thread sleeps
    until the next ``arm()``.

    ``arm()`` on a watchdog that is awake is three stores and no lock (it
    runs before every exit's KVM_RUN): it counts the arm, then looks at
    ``_armed``.  The thread, going to sleep, clears ``_armed`` first and
    then looks at the count; if an ``arm()`` came in between, it stays
    awake.  So either the thread sees the new arm or ``arm()`` sees the
    thread asleep and wakes it (under the lock): an armed run is never left
    without a watchdog.
    """

    IDLE_TICKS = 20

    def __init__(self, vcpu, progress):
        self.vcpu = vcpu
        self.progress = progress
        self.slice = 0.01
        self.kicks = 0
        self._armed = False
        self._arms = 0
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = None

    def arm(self, slice_seconds):
        self.slice = slice_seconds
        self._arms += 1
        if self._armed:
            return
        with self._lock:
            if not self._armed:
                self._armed = True
                self._wake.set()
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._loop, name="kvm-vcpu-watchdog", daemon=True)
                self._thread.start()

    def _loop(self):
        block_async_signals()
        seen = None
        idle = 0
        last = (None, None)
        while not self._stop.is_set():
            if not self._armed:
                self._wake.wait()
                self._wake.clear()
                seen, idle, last = None, 0, (None, None)
                continue
            self._stop.wait(self.slice)
            gen, running = self.progress(), self.vcpu.running
            if running and gen == seen:
                self.kicks += 1
                try:
                    self.vcpu.kick()
                except (ValueError, RuntimeError):
                    return          # the vCPU was closed underneath us
            seen = gen if running else None
            now = (gen, self._arms)
            idle = idle + 1 if not running and now == last else 0
            last = now
            if idle >= self.IDLE_TICKS:
                with self._lock:
                    self._armed = False
                    if self._arms != last[1]:
                        self._armed = True      # armed meanwhile: stay awake

    def close(self):
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=1)
            self._thread = None


# ---------------------------------------------------------------------------
# the accelerator
# ---------------------------------------------------------------------------

class KvmAccelerator(Accelerator):
    """Runs the Machine's x86 guest with /dev/kvm (one vCPU)."""

    name = "kvm"
    exact_icount = False
    #: nominal guest speed used to turn budgets into time and time into an
    #: icount estimate (about what this host's emulator does in real mode)
    assumed_ips = 2_000_000
    #: -icount-limit up to this is counted exactly: the run is single-stepped
    #: (about 8 us per instruction here, so at most ~1 s); above it the
    #: limit is a time estimate at ``assumed_ips``
    max_exact_count = 100_000
    min_slice = 0.001
    #: seconds inside the free runs' KVM_RUNs (the icount estimate), and the
    #: counted rest of ``icount`` (single steps)
    _t_free = 0.0
    _icount_counted = 0
    #: a run without a budget is kicked after this many seconds inside one
    #: KVM_RUN, to look at stop_requested (it then goes on)
    stop_check_slice = 0.1
    max_slice = 0.02
    slot = 0
    #: -accel kvm,NAME=VALUE: the properties and the values each takes
    OPTIONS = {"ioeventfd": ("on", "off"), "timing": ("off", "on")}

    def __init__(self, machine):
        super().__init__(machine)
        if machine.target.name != "x86":
            raise AccelUnavailable(
                "accelerator 'kvm' runs x86 guests only (this host is "
                f"x86-64); the board's target is {machine.target.name}")
        self.irq_line = False          # the interrupt controller's INTR
        self.irq_ack = None            # INTA: returns the vector
        self._system = self._vm = self.vcpu = None
        try:
            self._system = Kvm()
            self._vm = self._system.create_vm()
            try:
                self._vm.set_tss_addr()
            except KvmError:
                pass                   # only VMX needs it; harmless elsewhere
            ram = machine.ram
            self._vm.map_memory(self.slot, ram.base, ram.mm)
            self.vcpu = self._vm.create_vcpu(0)
            self.vcpu.set_cpuid2(self._system.get_supported_cpuid())
            self._sregs = self.vcpu.get_sregs()
        except KvmError as exc:
            self.close()
            raise AccelUnavailable(str(exc)) from None
        self.options = {"ioeventfd": "on", "timing": "off"}
        for key, value in machine.accel_options.items():
            if key not in self.OPTIONS or value not in self.OPTIONS[key]:
                self.close()
                raise ValueError(f"-accel kvm,{key}={value}: expected "
                                 + ", ".join(f"{k}={'|'.join(v)}" for k, v in self.OPTIONS.items()))
            self.options[key] = value
        #: (eventfd, bus, base, device, doorbell) for each registered doorbell
        self._doorbells = []
        self._doorbell_poll = select.poll()
        self._doorbell_by_fd = {}
        self._signals = 0
        #: the devices with a registered doorbell, and every port of theirs
        self._bell_devices = ()
        self._bell_ports = frozenset()
        self._bells_quiet = None        # no doorbell armed (None: not known)
        if self.options["ioeventfd"] == "on":
            self._register_doorbells()
        self._watchdog = _Watchdog(self.vcpu, self._time_in_kvm)
        self._armed_slice = None        # the slice last armed, ...
        self._t_last = float("-inf")    # ... and when the last free KVM_RUN ended
        self._dirty = True              # canonical state newer than KVM's
        self._stale = False             # KVM's state newer than canonical
        self._pending = None            # (kvm exit, emu exits) to complete, _ONE_OUT or _ONE_IN
        self._io_in = None              # _ONE_IN: the IN's IoExit ...
        self._io_at = 0                 # ... and where in the mmap its data goes
        self._kvm_view = self.vcpu.run_view
        self._kvm_struct = self.vcpu.kvm_run
        self._elements = collections.deque()   # split string-I/O elements
        self._queue = collections.deque()      # exits to hand out next
        self._halted = False
        self._pc = None                 # linear PC when known
        self._resume_bp = None
        self._debug_config = None
        self._icount_exact = 0
        self._kvm_exits = collections.Counter()
        self._io_exits = 0              # KVM_EXIT_IO of one element (not in _kvm_exits)
        self._io_in_loop = 0            # ... of them served inside run()'s loop (quiet)
        self._timing = self.options["timing"] == "on"
        self._t_kvm = 0.0
        self._t_accel = 0.0
        self._t_outside = 0.0
        self._t_return = None
        self._counting = False          # count_exactly: single-step without DEBUG exits
        self._window = False            # request_interrupt_window as last set
        #: the Machine's quiet port servers (``Machine.quiet_port_reads`` and
        #: ``quiet_port_writes``: port -> serve(size, value)); None for a
        #: stand-in machine without them
        self._quiet_reads = getattr(machine, "quiet_port_reads", None)
        self._quiet_writes = getattr(machine, "quiet_port_writes", None)

    @property
    def icount(self):
        """Instructions: those counted (single steps) and an estimate for the
        free runs, their time inside KVM_RUN at ``assumed_ips``."""
        return self._icount_counted + int(self._t_free * self.assumed_ips)

    @icount.setter
    def icount(self, value):
        self._icount_counted = value - int(self._t_free * self.assumed_ips)

    # -- life cycle -----------------------------------------------------------

    def close(self):
        if getattr(self, "_watchdog", None) is not None:
            self._watchdog.close()
        for fd, *_ in getattr(self, "_doorbells", ()):
            os.close(fd)
        self._doorbells = []
        if self._vm is not None:
            self._vm.close()        # closes the vCPU, releases the RAM pin
            self._vm = None
        self.vcpu = None
        if self._system is not None:
            self._system.close()
            self._system = None

    def _register_doorbells(self):
        """KVM_IOEVENTFD for every doorbell of every device on the buses."""
        m = self.machine
        owners, ports = [], set()
        for bus, devices in (("port", m.ports.devices()), ("mmio", m.mmio.devices())):
            for base, size, device in devices:
                bells = device.doorbells()
                if bells and device not in owners:
                    owners.append(device)
                if bells and bus == "port":
                    ports.update(range(base, base + size))
                for bell in bells:
                    fd = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
                    self._doorbells.append((fd, bus, base, device, bell))
                    self._doorbell_by_fd[fd] = self._doorbells[-1]
                    self._doorbell_poll.register(fd, select.POLLIN)
                    try:
                        self._vm.register_ioeventfd(fd, base + bell.offset, bell.size,
                                                    pio=bus == "port", datamatch=bell.value)
                    except KvmError as exc:
                        self.close()
                        raise AccelUnavailable(f"ioeventfd for {device.name}: {exc} "
                                               "(-accel kvm,ioeventfd=off does without)") from None
        self._bell_devices, self._bell_ports = tuple(owners), frozenset(ports)

    def _serve_doorbells(self, ex):
        """Before exit ``ex`` goes to the Machine: hand the devices the
        doorbell writes KVM took since the last exit -- unless ``ex`` is a
        port access to a device without doorbells, no doorbell is armed
        (``Device.doorbells_armed``: a write now would only be counted) and
        nothing logs; then the writes are held, and handed over at the next
        exit that is not such, or at ``sync_state()`` (the end of every
        run): the device sees and counts them all the same, before any
        access of its own, and no poll(2) is spent on the exits between.

        Whether no doorbell is armed (and nothing logs) is kept
        (``_bells_quiet``) until an exit that may change it: one that reaches
        a doorbell's device or is not a port access, a state change, the end
        of a run."""
        if ex.__class__ is IoExit and ex.port not in self._bell_ports:
            if self._bells_quiet is None:
                self._bells_quiet = (self.machine.log is None and
                                     not any(d.doorbells_armed for d in self._bell_devices))
            if self._bells_quiet:
                return
        else:
            self._bells_quiet = None
        self._ring_doorbells()

    def _ring_doorbells(self):
        """Hand the devices the doorbell writes KVM took since the last look:
        one poll(2) over every doorbell's eventfd (at every exit: a syscall
        per doorbell cost more than the exit), then a read of those rung."""
        rung = self._doorbell_poll.poll(0)
        if not rung:
            return
        by_fd = self._doorbell_by_fd
        for fd, _events in rung:
            _, bus, base, device, bell = by_fd[fd]
            try:
                times = os.eventfd_read(fd)
            except BlockingIOError:
                continue
            self._signals += times
            self.machine.doorbell_rung(bus, base, device, bell, times)

    # -- state ----------------------------------------------------------------

    def state_changed(self):
        self._bells_quiet = None
        self._dirty = True
        self._stale = False
        self._halted = bool(self.machine.cpu.halted)
        self._pc = None

    def sync_state(self):
        self._bells_quiet = None
        if self._bell_devices:      # the writes held (_serve_doorbells)
            self._ring_doorbells()
        if self._dirty or not self._stale:
            return
        if self._pending is not None:
            self._complete_pending()
        regs, sregs = self.vcpu.get_regs(), self.vcpu.get_sregs()
        self._sregs = sregs
        kvm_to_state(regs, sregs, self.machine.cpu)
        self.machine.cpu.halted = self._halted
        self._stale = False

    def put_state(self):
        """Push ``machine.cpu`` into KVM now (QEMU's
        ``kvm_arch_put_registers``) instead of lazily before the next run.

        Returns None, or a FAIL_ENTRY exit saying why KVM refused or altered
        the state.  A later ``sync_state()`` reads the state back from KVM,
        which makes canonical -> KVM -> canonical round trips testable.
        """
        failed = self._push()
        if failed is None:
            self._stale = True
        return failed

    def _push(self):
        """kvm_arch_put_registers: canonical state into KVM.

        Returns None, or a FAIL_ENTRY exit explaining why KVM refused the
        state (or silently changed it).
        """
        if self._pending is not None:
            self._complete_pending()
        regs, sregs = state_to_kvm(self.machine.cpu, self._sregs)
        try:
            self.vcpu.set_sregs(sregs)
            self.vcpu.set_regs(regs)
        except KvmError as exc:
            return FailEntryExit(exc.errno or 0, f"KVM refused the CPU "
                                 f"state: {exc}")
        back = self.vcpu.get_sregs()
        self._sregs = back
        self._dirty = False
        self._pc = None
        changed = [name for name in ("cr0", "cr4", "efer")
                   if getattr(back, name) != getattr(sregs, name)]
        if changed:
            what = ", ".join(f"{n.upper()} {getattr(sregs, n):#x} became "
                             f"{getattr(back, n):#x}" for n in changed)
            hint = ""
            if sregs.cr0 & CR0_PG and not back.cr0 & CR0_PG:
                hint = (" (paging outside long mode: this host's KVM "
                        "supports paging only in long mode, as kvm_pvm "
                        "does; this is a limit of this host's KVM, not of "
                        "the guest)")
            self._stale = True
            return FailEntryExit(0, f"KVM silently changed the state it "
                                 f"was given: {what}{hint}")
        return None

    def _current_pc(self):
        """Linear address of the next instruction (asks KVM if unknown)."""
        if self._pc is None:
            if self._dirty:
                s = self.machine.cpu
                return s.segs[CS].base + s.rip
            self._pc = self.vcpu.get_sregs().cs.base + self.vcpu.get_regs().rip
        return self._pc

    def _read_guest(self, linear, n, sregs=None):
        """Up to ``n`` bytes of guest memory at a linear address."""
        sregs = sregs or self.vcpu.get_sregs()
        addr = linear
        if sregs.cr0 & CR0_PG:
            try:
                tr = self.vcpu.translate(linear)
            except KvmError:
                return b""
            if not tr.valid:
                return b""
            addr = tr.physical_address
        elif not sregs.efer & EFER_LMA:
            addr &= 0xFFFFFFFF
        ram = self.machine.ram
        n = max(0, min(n, ram.base + ram.size - addr))
        if not ram.contains(addr, max(n, 1)):
            return b""
        return ram.read_bytes(addr, n)

    # -- debugging ------------------------------------------------------------

    def set_single_step(self, on):
        self.single_step = bool(on)

    def _stepping(self):
        # -d exits (machine.exit_pcs): KVM reports an I/O exit with RIP at the
        # instruction or past it, depending on the path the host took (fast
        # PIO or its instruction emulator); stepped, the PC before each
        # KVM_RUN is the instruction's
        return (self.single_step or self._counting or self.machine.exit_pcs
                or len(self.breakpoints) > MAX_HW_BREAKPOINTS)

    def count_exactly(self, limit):
        """An -icount-limit up to ``max_exact_count`` is counted exactly by
        single-stepping the run; a larger one stays a time estimate."""
        self._counting = limit is not None and limit <= self.max_exact_count
        return self._counting

    def host_notes(self):
        """The limits :mod:`kvm.probe` found on this host that matter in the
        mode the guest stopped in (all of them if none does)."""
        from . import probe
        return probe.explain(self.machine.cpu.mode)

    def _configure_debug(self, step, hw):
        config = (step, hw)
        if config == self._debug_config:
            return
        if config == _FREE_RUN:
            config = _FREE_RUN      # the free run's fast check is by identity
        self.vcpu.set_guest_debug(enable=bool(step or hw), single_step=step,
                                  hw_breakpoints=hw)
        self._debug_config = config

    # -- running --------------------------------------------------------------

    def request_stop(self):
        """Flag the stop and kick the vCPU (``Vcpu.kick``): ``immediate_exit``
        keeps the next KVM_RUN from entering the guest, and a thread inside
        KVM_RUN gets SIGUSR1.  From a signal handler in the thread that runs
        the vCPU (which runs only once KVM_RUN has returned EINTR: the signal
        did that) the kick sends no signal, and its lock is re-entrant."""
        super().request_stop()
        vcpu = self.vcpu
        if vcpu is None or vcpu.closed:
            return
        vcpu.kick()

    def run(self, budget):
        """One turn of kvm_cpu_exec(): the next exit for the Machine.

        The common turn -- the last exit was one port access, served, and
        nothing has changed since but what the Machine put in an IN's data
        (no state pushed or pulled, no step or breakpoint) -- goes straight
        to KVM_RUN; every other one through :meth:`_prologue`."""
        if self._timing:
            return self._timed_run(budget)
        # (a run that steps, has breakpoints or records each exit's PC:
        # every turn through _prologue, and no access served in the loop)
        watched = (self.single_step or self._counting or self.machine.exit_pcs
                   or self.breakpoints)
        pending = self._pending
        if (pending is _ONE_OUT or pending is _ONE_IN) and not self._dirty and not watched:
            if pending is _ONE_IN:
                self._fill_reply()
            self._pending = None    # the next KVM_RUN completes it
        else:
            ex = self._prologue(budget)
            if ex is not None:
                return self._served(ex)
            self._stale = True      # the KVM_RUN below makes KVM's state the newer
            self._pc = None         # (a common turn finds both so: its last exit set them)
            watched = (self.single_step or self._counting or self.machine.exit_pcs
                       or self.breakpoints)
        # The watchdog: a budget's time slice, else stop_check_slice (a
        # signal that lands after the last look at stop_requested but before
        # KVM_RUN enters the guest interrupts nothing: a kick now and then
        # makes the loop below look again).  It goes to sleep only after
        # IDLE_TICKS looks (>= 20 ms) without a KVM_RUN ending, so within
        # _WATCHED of the last one it is still awake with the slice last
        # armed: armed again when the slice changes, or in the loop after
        # longer.
        if budget is None:
            if self._armed_slice != self.stop_check_slice:
                self._arm(self.stop_check_slice)
        else:
            # in whole min_slices, rounded down: a timer's budget shrinks
            # at every exit, the slice armed changes once a min_slice
            slice_s = budget / self.assumed_ips
            if slice_s <= self.min_slice:
                slice_s = self.min_slice
            elif slice_s >= self.max_slice:
                slice_s = self.max_slice
            else:
                slice_s = slice_s // self.min_slice * self.min_slice
            if slice_s != self._armed_slice:
                self._arm(slice_s)
        # The loop of kvm_cpu_exec(), one KVM_RUN a turn.  A port access of
        # one element (OUT, IN: the common exit) is read from kvm_run with
        # one unpack and handed back as an IoExit (its doorbell look-up
        # here: the port is at hand); every other exit is decoded into a
        # kvm.exits kind and translated.  The time inside KVM_RUN makes the
        # icount estimate.
        # A port access its device takes quietly (the Machine's quiet port
        # servers: no -d exits or observer wants the exit, and the access
        # neither moves the device's interrupt line nor asks for a stop) is
        # served here, counted as an IO exit all the same, and the loop goes
        # straight back into KVM_RUN -- QEMU's kvm_cpu_exec() does the same
        # with kvm_handle_io() -- unless a doorbell is armed or the run
        # steps or has breakpoints (``writes`` and ``reads`` None: decided
        # once per turn, again only after an exit that did not leave the
        # loop).  A port no device serves quietly has the server
        # ``declined``: no call is made.
        writes = reads = None
        if not watched and (self._bells_quiet or not self._bell_devices):
            reads, writes = self._quiet_reads, self._quiet_writes
        vcpu = self.vcpu
        while True:
            if self.stop_requested:
                return self._served(BudgetExit("time"))
            if self.irq_line or self._window:
                self._inject_interrupt()
            t0 = _clock()
            if t0 - self._t_last > _WATCHED:
                self._arm(self._armed_slice)
            exited = vcpu.enter()
            t1 = self._t_last = _clock()
            self._t_free += t1 - t0
            if exited:
                code, direction, size, port, count, start = _IO_HEAD(self._kvm_view)
                if code == _KVM_EXIT_IO and count == 1:
                    self._io_exits += 1
                    if direction == _IO_OUT:
                        value = (self._kvm_view[start] if size == 1
                                 else _IO_UNPACK[size](self._kvm_view, start)[0])
                        if writes is not None:
                            serve = writes[port]
                            if serve is not declined and serve(size, value) >= 0:
                                self._io_in_loop += 1
                                continue    # the next KVM_RUN completes the OUT
                        self._pending = _ONE_OUT
                        ex = IoExit(port, size, True, value)
                    else:
                        if reads is not None:
                            serve = reads[port]
                            if serve is not declined:
                                value = serve(size, 0)
                                if value >= 0:
                                    _IO_PACK[size](self._kvm_view, start, value)
                                    self._io_in_loop += 1
                                    continue    # ... and takes the IN's value
                        self._pending = _ONE_IN
                        ex = self._io_in = IoExit(port, size, False, 0)
                        self._io_at = start
                    if self._bell_devices and not (self._bells_quiet and port not in self._bell_ports):
                        self._serve_doorbells(ex)
                    return ex
                self._stale = True
                self._pc = None
                self._kvm_exits[code] += 1
                if code != _KVM_EXIT_INTR:
                    ex = self._other_exit(kx.decode(self._kvm_struct, self._kvm_view))
                    if ex is not None:
                        return self._served(ex)
                    self._stale = True      # (after a push) the next KVM_RUN
                    if writes is not None and not (self._bells_quiet or not self._bell_devices):
                        writes = reads = None
                    continue
            else:                                       # EINTR: an Intr too
                self._stale = True
                self._pc = None
                self._kvm_exits[_KVM_EXIT_INTR] += 1
            if budget is None and not self.stop_requested:
                if self._doorbells:     # a driver may be polling its used ring
                    self._ring_doorbells()
                    if writes is not None and not (self._bells_quiet or not self._bell_devices):
                        writes = reads = None
                continue
            return self._served(BudgetExit("time"))

    def _arm(self, slice_s):
        self._armed_slice = slice_s
        self._watchdog.arm(slice_s)

    def _time_in_kvm(self):
        return self._t_kvm + self._t_free

    def _prologue(self, budget):
        """What comes before a turn's KVM_RUN: an exit owed (string I/O,
        queued), the last I/O completed, state pushed, HLT, stepping,
        breakpoints.  The exit, or None to enter."""
        if self._elements:
            return self._next_element()
        # (_stepping() needs one of these)
        stepping = ((self.single_step or self._counting or self.machine.exit_pcs
                     or self.breakpoints) and self._stepping())
        if self._pending is not None:
            if stepping or self._dirty:
                self._complete_pending()
            else:               # the next KVM_RUN completes it
                pending = self._pending
                if pending is _ONE_IN or (pending is not _ONE_OUT
                                          and pending[0].__class__ in _REPLIED):
                    self._fill_reply()
                self._pending = None
        if self._queue:
            return self._queue.popleft()
        if self._dirty:
            failed = self._push()
            if failed is not None:
                return failed
        if self._halted:
            rflags = (self.vcpu.get_regs().rflags if self._stale
                      else self.machine.cpu.rflags)
            if not (self.irq_line and rflags & _RFLAGS_IF):
                return HltExit()
            self._halted = False
        if stepping:
            return self._run_stepping(budget)
        # the free run
        if self.breakpoints or self._resume_bp is not None or self._debug_config is not _FREE_RUN:
            ex = self._prepare_free()
            if ex is not None:
                return ex
        return None

    def _served(self, ex):
        """``ex``, the devices' doorbells looked after first."""
        if self._bell_devices:
            self._serve_doorbells(ex)
        return ex

    def _timed_run(self, budget):
        """``run()`` with ``-accel kvm,timing=on``: the time between KVM_RUNs
        split into this accelerator's Python and the rest (the Machine and
        devices), at two more clock reads per exit."""
        t0 = time.perf_counter()
        if self._t_return is not None:
            self._t_outside += t0 - self._t_return
        kvm_before = self._t_kvm + self._t_free
        self._timing = False            # run() below: the turn itself
        try:
            return self.run(budget)
        finally:
            self._timing = True
            self._t_return = time.perf_counter()
            self._t_accel += (self._t_return - t0) - (self._t_kvm + self._t_free - kvm_before)

    def _kvm_run(self, label=None):
        """One KVM_RUN, timed and counted (under ``label`` if given)."""
        t0 = _clock()
        try:
            ex = self.vcpu.run()
        finally:
            self._t_kvm += _clock() - t0
        # counted by exit number (named in stats()): no name lookup per exit
        self._kvm_exits[label or ex.reason] += 1
        self._stale = True
        return ex

    def _prepare_free(self):
        """A free run with breakpoints, or after one: step over the one the
        vCPU stands on, arm the others (DR0-DR3).  An exit, or None."""
        hw = tuple(sorted(self.breakpoints)) if self.breakpoints else ()
        if self._resume_bp is not None:
            resume, self._resume_bp = self._resume_bp, None
            if resume in self.breakpoints and self._current_pc() == resume:
                ex = self._step_over()
                if ex is not None:
                    return ex
        if self._debug_config != (False, hw):
            self._configure_debug(False, hw)
        return None

    def _other_exit(self, kex):
        """A free run's exit other than one port access or Intr: the exit
        for the Machine, or None to run on (a stale step or a guest #DB/#BP;
        an instruction outside RAM that kasou ran)."""
        if kex.__class__ is kx.Debug:
            if kex.breakpoints_hit and kex.pc in self.breakpoints:
                self._pc = kex.pc
                self._resume_bp = kex.pc
                return DebugExit("breakpoint", kex.pc)
            return None
        ex = self._translate(kex)
        if ex is None:      # kasou ran the instruction (code outside RAM)
            failed = self._push()
            if failed is not None or self._queue:
                return failed or self._queue.popleft()
        return ex

    def _step_over(self):
        """Execute the instruction under a breakpoint with the bps disarmed."""
        self._configure_debug(True, ())
        self._inject_interrupt()
        kex = self._kvm_run()
        if isinstance(kex, kx.Debug):
            self._icount_exact += 1
            self.icount += 1
            self._pc = kex.pc
            return None
        self._pc = None
        if isinstance(kex, kx.Intr):
            return None
        return self._translate(kex)

    def _run_stepping(self, budget):
        """Single-step (user stepping, or > 4 breakpoints emulated)."""
        user = self.single_step
        self._configure_debug(True, ())
        n = 0
        while budget is None or n < budget:
            if self.stop_requested:
                break
            pc = self._current_pc()
            resume, self._resume_bp = self._resume_bp, None
            if pc in self.breakpoints and pc != resume:
                self._resume_bp = pc
                return DebugExit("breakpoint", pc)
            at_hlt = self._insn_is_hlt(pc)
            self._inject_interrupt()
            kex = self._kvm_run()
            if isinstance(kex, kx.Debug):
                n += 1
                self._icount_exact += 1
                self.icount += 1
                self._pc = kex.pc
                if at_hlt:      # kvm_pvm: DEBUG after HLT, not HLT
                    self._halted = True
                    if user:
                        self._queue.append(DebugExit("step", kex.pc))
                    return HltExit()
                if user:
                    return DebugExit("step", kex.pc)
                continue
            self._pc = None
            if isinstance(kex, kx.Intr):
                continue
            if isinstance(kex, kx.Hlt):       # VMX: HLT, step squashed
                n += 1
                self._icount_exact += 1
                self.icount += 1
                self._halted = True
                if user:
                    self._queue.append(DebugExit("step", self._current_pc()))
                return HltExit()
            ex = self._translate(kex)
            if ex is None:      # kasou ran the instruction (code outside RAM)
                n += 1
                failed = self._push()
                if failed is not None or self._queue:
                    return failed or self._queue.popleft()
                if user:
                    return DebugExit("step", self._current_pc())
                continue
            if self.machine.exit_pcs:
                self._mark_source((ex, *self._elements), pc)
            return ex
        return BudgetExit("instructions")

    def _mark_source(self, exits, pc):
        """-d exits: the instruction at ``pc`` caused these exits."""
        sregs = self.vcpu.get_sregs()
        real = (not sregs.cr0 & CR0_PE
                or self.vcpu.get_regs().rflags & _RFLAGS_VM)
        mark_source(exits, pc, sregs.cs.selector if real else None)

    def _insn_is_hlt(self, pc):
        code = self._read_guest(pc, 4, self._sregs if not self._stale
                                else None)
        for byte in code:
            if byte not in _LEGACY_PREFIXES:
                return byte == _HLT
        return False

    def _complete_pending(self):
        """Finish an I/O or MMIO instruction without entering the guest.

        KVM completes it from the data we supply, then returns at once
        because of immediate_exit (EINTR), or, on VMX while single-stepping,
        with the step's DEBUG exit.
        """
        self._fill_reply()
        self._pending = None
        self._elements.clear()
        self.vcpu.immediate_exit = True
        try:
            kex = self._kvm_run("completion (immediate_exit)")
        finally:
            self.vcpu.immediate_exit = False
        self._pc = None
        if self._stepping():
            self._icount_exact += 1
            self.icount += 1
            pc = kex.pc if isinstance(kex, kx.Debug) else self._current_pc()
            self._pc = pc
            if self.single_step:
                self._queue.append(DebugExit("step", pc))

    def _fill_reply(self):
        """Copy the Machine's answers to IN / MMIO reads into kvm_run."""
        if self._pending is None:
            return
        if self._pending is _ONE_OUT:
            return
        if self._pending is _ONE_IN:
            ex = self._io_in
            data = ex.data
            if isinstance(data, int):
                _IO_PACK[ex.size](self._kvm_view, self._io_at, data & ((1 << (8 * ex.size)) - 1))
            else:
                self._kvm_view[self._io_at:self._io_at + ex.size] = bytes(data)[:ex.size]
            return
        kex, replies = self._pending
        if isinstance(kex, kx.IoIn):
            data = b"".join(e.data.to_bytes(kex.size, "little", signed=False)
                            if isinstance(e.data, int) else bytes(e.data)
                            for e in replies)
            kex.reply(data)
        elif isinstance(kex, kx.MmioRead):
            kex.reply(replies[0].data & ((1 << (8 * kex.len)) - 1))

    def _next_element(self):
        ex = self._elements.popleft()
        self._pending[1].append(ex)
        return ex

    # -- interrupts (userspace 8259: QEMU's kvm_arch_pre_run) -----------------

    def _inject_interrupt(self):
        """Inject the pending interrupt if the guest can take it, else ask
        KVM for an IRQ_WINDOW_OPEN exit.  kvm_run is read only while an
        interrupt is pending; ``_window`` mirrors what was last written to
        ``request_interrupt_window`` (which only this code writes)."""
        if not self.irq_line or self.irq_ack is None:
            if self._window:
                self.vcpu.request_interrupt_window = self._window = False
            return
        vcpu = self.vcpu
        if vcpu.ready_for_interrupt_injection and vcpu.if_flag:
            vector = self.irq_ack()
            if vector is not None:
                vcpu.interrupt(vector)
            vcpu.request_interrupt_window = self._window = False
        else:
            vcpu.request_interrupt_window = self._window = True

    # -- exits ----------------------------------------------------------------

    def _translate(self, kex):
        """kvm.exits kind -> emu.exits kind (the switch of kvm_cpu_exec)."""
        kind = kex.__class__
        if (kind is kx.IoOut or kind is kx.IoIn) and kex.count == 1:
            write = kind is kx.IoOut        # OUT/IN: no string-I/O elements
            ex = IoExit(kex.port, kex.size, write,
                        int.from_bytes(kex.data, "little") if write else 0)
            self._pending = (kex, [ex])
            return ex
        if isinstance(kex, (kx.IoOut, kx.IoIn)):
            write = isinstance(kex, kx.IoOut)
            parts = []
            for k in range(kex.count):
                value = 0
                if write:
                    value = int.from_bytes(
                        bytes(kex.data[k * kex.size:(k + 1) * kex.size]),
                        "little")
                parts.append(IoExit(kex.port, kex.size, write, value))
            self._pending = (kex, [])
            self._elements.extend(parts)
            return self._next_element()
        if isinstance(kex, (kx.MmioRead, kx.MmioWrite)):
            write = isinstance(kex, kx.MmioWrite)
            ex = MmioExit(kex.phys_addr, kex.len, write,
                          kex.value if write else 0)
            self._pending = (kex, [ex])
            return ex
        if isinstance(kex, kx.Hlt):
            self._halted = True
            return HltExit()
        if isinstance(kex, kx.Shutdown):
            return ShutdownExit(self._explain_shutdown())
        if isinstance(kex, kx.FailEntry):
            problems = explain_sregs(self.vcpu.get_sregs())
            why = kex.explanation
            if problems:
                why += "; " + "; ".join(problems)
            return FailEntryExit(kex.hardware_entry_failure_reason, why)
        if isinstance(kex, kx.InternalError):
            if kex.suberror_name == "EMULATION" and self._code_outside_ram():
                return self._run_outside_ram()
            return self._explain_internal(kex)
        if isinstance(kex, kx.Debug):
            return DebugExit("step" if kex.single_step else "breakpoint",
                             kex.pc)
        if isinstance(kex, kx.SystemEvent):
            return SystemEventExit(
                _EVENT_NAMES.get(kex.type, kex.type_name), 0)
        if isinstance(kex, kx.IrqWindowOpen):
            return IrqWindowExit()
        if isinstance(kex, kx.Unsupported):
            return InternalErrorExit("UNSUPPORTED",
                                     f"unsupported exit {kex.code}")
        return InternalErrorExit(
            "UNSUPPORTED", f"unsupported exit {kex.reason} ({kex.name}): "
            f"{kex.describe()}")

    def _code_outside_ram(self):
        """Is the next instruction outside RAM (where KVM cannot fetch it)?"""
        regs, sregs = self.vcpu.get_regs(), self.vcpu.get_sregs()
        addr = sregs.cs.base + regs.rip
        if sregs.cr0 & CR0_PG:
            try:
                tr = self.vcpu.translate(addr)
            except KvmError:
                return False
            if not tr.valid:
                return False
            addr = tr.physical_address
        elif not sregs.efer & EFER_LMA:
            addr &= 0xFFFFFFFF
        return not self.machine.ram.contains(addr)

    def _run_outside_ram(self):
        """Code outside RAM: the host's emulator cannot fetch it, so kasou
        runs the instruction (emu.isa.x86.step: fetched from the bus, where
        unassigned memory reads all ones, as it does for data on KVM too).
        None (the run goes on), or the exit that ends it."""
        from emu.isa.x86.core import missing_semantics
        from emu.isa.ops import IoPending
        from emu.isa.x86.concrete import ConcreteOps
        from emu.isa.x86.decode import Decoder
        from emu.isa.x86.interrupts import TripleFault
        from emu.isa.x86.semantics import REGISTRY
        from emu.isa.x86.step import decoder_key, step_one
        self.sync_state()
        m = self.machine
        s = m.cpu
        ops = ConcreteOps(s, m.ram, m.model, m.mmio)
        size, long64 = decoder_key(s)
        pc = s.segs[CS].base + s.rip
        try:
            step_one(ops, Decoder(m.model.name, size, long64, REGISTRY), missing_semantics)
        except TripleFault as tf:
            return ShutdownExit(tf.describe())
        except IoPending:
            return InternalErrorExit("EMULATION", f"the instruction at 0x{pc:x} outside RAM "
                                     "reads MMIO, which kasou's run of it cannot serve", pc=pc)
        for ex in ops.pending_exits:
            self._queue.append(ex)
        self.icount += 1
        self.state_changed()
        return None

    def _where(self):
        """(mode, 'CS:IP', linear pc, sregs) of the vCPU now."""
        regs, sregs = self.vcpu.get_regs(), self.vcpu.get_sregs()
        mode = _mode_of(sregs)
        width = 16 if mode == "long64" else (8 if mode in ("prot32", "compat")
                                             else 4)
        where = f"{sregs.cs.selector:04x}:{regs.rip:0{width}x}"
        return mode, where, sregs.cs.base + regs.rip, sregs

    def _explain_shutdown(self):
        mode, where, pc, sregs = self._where()
        code = self._read_guest(pc, 15, sregs)
        text = disassemble(code, mode)[1] if code else "?"
        length = _insn_length(code, mode) if code else 0
        shown = (code[:length] or code[:8]).hex(" ") if code else "unreadable"
        why = (f"triple fault: the guest faulted while delivering a fault; "
               f"state entered: {_MODE_WORDS[mode]}, CS:IP {where}, "
               f"instruction bytes there {shown} ({text})")
        return why + self._paging_hint(text, sregs) + self._syscall_hint(text, mode, sregs)

    def _paging_hint(self, text, sregs):
        """A SHUTDOWN at a MOV to CR0 that sets PG outside long mode: say that
        this host cannot run such guests (kvm_pvm drops CR0.PG outside long
        mode, reference §1.7-1.8), rather than blame the guest."""
        parts = text.replace(",", " ").split()
        if len(parts) != 3 or parts[0] != "mov" or parts[1] != "cr0":
            return ""
        regs = self.vcpu.get_regs()
        value = getattr(regs, "r" + parts[2][1:], None) if parts[2].startswith("e") else None
        if value is None or not value & CR0_PG or sregs.efer & 0x100:
            return ""
        kind = "PAE" if sregs.cr4 & 0x20 else "32-bit"
        return (f"; the guest was turning on paging outside long mode "
                f"(CR0 := {value & 0xFFFFFFFF:#x}, {kind} paging): this host's "
                f"KVM cannot run 32-bit paged guests (kvm_pvm supports paging "
                f"only in long mode); this is a limit of this host's KVM, not "
                f"of the guest -- run it with -accel interp, tcg or unicorn")

    def _syscall_hint(self, text, mode, sregs):
        """A SHUTDOWN in 64-bit code at CPL 3 on SWAPGS, or at the SYSCALL
        entry point (IA32_LSTAR): the guest's SYSCALL reached its kernel entry
        but this host's KVM left the vCPU in ring 3 there.  kvm_pvm runs
        ring-3 code natively; on its SYSCALL it loads RIP from IA32_LSTAR and
        saves RCX and R11 but keeps the user CS and SS, so the kernel entry's
        first privileged instruction (SWAPGS: #GP at CPL 3) faults, and with
        no handler for that the run ends in a triple fault.  Say so, rather
        than blame the guest."""
        if mode != "long64" or sregs.cs.selector & 3 != 3:
            return ""
        mnemonic = text.split()[0] if text else ""
        regs = self.vcpu.get_regs()
        try:
            msrs = self.vcpu.get_msrs([_MSR_STAR, _MSR_LSTAR])
        except KvmError:
            msrs = {}
        lstar = msrs.get(_MSR_LSTAR)
        at_entry = lstar is not None and regs.rip == lstar
        if mnemonic != "swapgs" and not at_entry:
            return ""
        star = msrs.get(_MSR_STAR)
        what = mnemonic.upper() if mnemonic else "the instruction"
        where = (f"the first instruction of its SYSCALL entry point (IA32_LSTAR {lstar:#x})"
                 if at_entry else "in 64-bit code")
        want = (f"; SYSCALL loads CS {(star >> 32) & 0xFFFC:04x} and SS "
                f"{((star >> 32) + 8) & 0xFFFC:04x} from IA32_STAR" if star else "")
        return (f"; the guest was at {what}, {where}, with CPL 3 (CS "
                f"{sregs.cs.selector:04x}, SS {sregs.ss.selector:04x}{want}): this "
                f"host's KVM cannot run a SYSCALL from ring 3 into ring 0 (kvm_pvm "
                f"runs ring-3 code natively; its SYSCALL sets RIP, RCX and R11 but "
                f"leaves the vCPU in ring 3, where SWAPGS and the other ring-0 "
                f"instructions raise #GP); this is a limit of this host's KVM, not "
                f"of the guest -- run it with -accel interp, tcg or unicorn")

    def _explain_internal(self, kex):
        name = kex.suberror_name
        mode, where, pc, sregs = self._where()
        if name != "EMULATION":
            words = kex.describe()
            data = " ".join(f"{d:#x}" for d in kex.data)
            return InternalErrorExit(
                name, f"{words}, at {where} in {_MODE_WORDS[mode]}"
                + (f"; data {data}" if data else ""), pc=pc)
        in_ram = self._read_guest(pc, 15, sregs)
        reported = kex.insn_bytes or b""
        code = reported
        note = ""
        if in_ram and (not reported or not in_ram.startswith(
                reported[:len(in_ram)])):
            if reported:
                note = (f"; KVM reported bytes {reported.hex(' ')}, which "
                        "are not what guest RAM holds at CS:IP")
            code = in_ram
        mnemonic, text = disassemble(code, mode) if code else (None, "?")
        length = _insn_length(code, mode)
        shown = (code[:length] if length else code[:8]).hex(" ")
        what = mnemonic or "the instruction"
        why = (f"this host's KVM cannot emulate {what} at {where} "
               f"(instruction bytes {shown}: {text}); this is a limit of "
               f"this host's KVM, not of the guest{note}")
        if mode in ("prot32", "prot16") and (mnemonic or "").lower() in (
                "int", "int3", "into", "iret", "iretd", "lar", "lsl", "verr", "verw"):
            why += ("; on this nested kvm_pvm host ring-0 protected-mode code "
                    "runs in the host kernel's instruction emulator, which "
                    "cannot deliver interrupts through a 32-bit IDT, return "
                    "with IRETD (to ring 3 or from a handler) or run the "
                    "descriptor instructions; run it with -accel interp, tcg "
                    "or unicorn")
        return InternalErrorExit("EMULATION", why, pc=pc,
                                 insn_bytes=bytes(code))

    # -- statistics -----------------------------------------------------------

    def stats(self):
        """KVM-level counts and times; the split of the time between
        KVM_RUNs (``seconds_in_accel_python``, ``seconds_outside_accel``) is
        measured only with ``-accel kvm,timing=on`` (else None)."""
        exits = collections.Counter(self._kvm_exits)
        if self._io_exits:
            exits[_KVM_EXIT_IO] += self._io_exits
        return {
            "kvm_exits": {uapi.EXIT_NAMES.get(k, str(k)) if isinstance(k, int) else k: n
                          for k, n in exits.items()},
            "kvm_runs": sum(exits.values()),
            # port exits served by their device inside the engine's loop,
            # never handed to the Machine's (counted as IO exits all the same)
            "io_served_in_engine": self._io_in_loop,
            "seconds_in_kvm_run": self._time_in_kvm(),
            "seconds_in_accel_python": self._t_accel if self._timing else None,
            "seconds_outside_accel": self._t_outside if self._timing else None,
            "icount_exact": self._icount_exact,
            "icount_is_estimate": self.icount != self._icount_exact,
            "watchdog_kicks": self._watchdog.kicks,
            "ioeventfd": self.options["ioeventfd"],
            "ioeventfd_signals": self._signals,
        }


def _insn_length(code, mode):
    import capstone
    cs_mode = {"real": capstone.CS_MODE_16, "prot16": capstone.CS_MODE_16,
               "long64": capstone.CS_MODE_64}.get(mode, capstone.CS_MODE_32)
    md = capstone.Cs(capstone.CS_ARCH_X86, cs_mode)
    for insn in md.disasm(bytes(code), 0, 1):
        return insn.size
    return 0


# ---------------------------------------------------------------------------
# emu bench: the cost of one exit
# ---------------------------------------------------------------------------

#: 16-bit guest at 0x1000: ``l: out 0x80, al; jmp l`` (every OUT exits)
_OUT_LOOP = bytes([0xE6, 0x80,        # out 0x80, al
                   0xEB, 0xFC])       # jmp short -4


def measure_exit_cost(n=2000, repeats=5):
    """Median microseconds for one PIO exit round trip (KVM_RUN -> OUT exit
    -> back into the guest), measured on a throw-away VM running
    ``out 0x80, al; jmp $-2`` in real mode, ``n`` exits per sample."""
    import mmap
    samples = []
    with Kvm() as system, system.create_vm() as vm:
        ram = mmap.mmap(-1, 0x2000)
        try:
            ram[0x1000:0x1000 + len(_OUT_LOOP)] = _OUT_LOOP
            vm.map_memory(0, 0, ram)
            vcpu = vm.create_vcpu(0)
            sregs = vcpu.get_sregs()
            sregs.cs.base = sregs.cs.selector = 0
            vcpu.set_sregs(sregs)
            vcpu.set_regs(uapi.kvm_regs(rip=0x1000, rflags=2))
            vcpu.run()                          # warm up
            for _ in range(repeats):
                t0 = time.perf_counter()
                for _ in range(n):
                    vcpu.run()
                samples.append((time.perf_counter() - t0) / n * 1e6)
        finally:
            vm.close()
            ram.close()
    return statistics.median(samples)
