"""``Vcpu``: a vCPU file descriptor and its mmapped ``struct kvm_run``.

What is modelled: the vCPU-level ioctls of the KVM API
(``Documentation/virt/kvm/api.rst`` §4.10 KVM_RUN, §4.11-§4.14 regs/sregs,
§4.15 KVM_TRANSLATE, §4.16 KVM_INTERRUPT, §4.18/§4.19 MSRs, §4.20
KVM_SET_CPUID2, §4.22/§4.23 FPU, §4.31/§4.32 vcpu events, §4.33/§4.34
debug registers, §4.87 KVM_SET_GUEST_DEBUG, §5 kvm_run incl. sync regs and
immediate_exit; reference ``kvm_qmp_gdb.md`` §1.3-§1.10).

``run()`` is QEMU's ``kvm_cpu_exec()`` inner step: one KVM_RUN, decoded into
one of the kinds in ``kvm.exits``.

Stopping a running vCPU from another thread (reference §1.10):
``kick()`` sets ``kvm_run.immediate_exit = 1`` and sends SIGUSR1 to the
thread inside ``run()``; KVM_RUN fails with EINTR and ``run()`` returns
``Intr`` and clears ``immediate_exit``.  A kick that arrives while no
``run()`` is in progress only sets ``immediate_exit``, so the next
``run()`` returns ``Intr`` at once (and completes a pending IN/MMIO read
first): no kick is lost.  SIGUSR1 must have a Python handler or its default
action kills the process; ``Vcpu()`` installs a no-op one (on the main
thread; Python allows no other) if SIGUSR1 is at SIG_DFL or SIG_IGN.  That
handler is the package's only process-wide state; it is detected with
``signal.getsignal`` rather than a module flag.
"""

import errno
import mmap
import os
import signal
import threading
from dataclasses import dataclass

from . import uapi
from .errors import (KvmError, explain_sregs, ioctl, ioctl_error, ioctl_noarg,
                     sregs_advice)
from .exits import Intr, decode

_KVM_RUN = uapi.KVM_RUN
_get_ident = threading.get_ident

#: the signal ``kick()`` sends to the thread inside KVM_RUN
KICK_SIGNAL = signal.SIGUSR1

MAX_HW_BREAKPOINTS = 4

# DR7 encodings (SDM Vol. 3B §17.2.4): RW field and LEN field values
_DR7_RW = {"x": 0b00, "w": 0b01, "io": 0b10, "rw": 0b11}
_DR7_LEN = {1: 0b00, 2: 0b01, 8: 0b10, 4: 0b11}
_DR7_FIXED1 = 1 << 10          # DR7 bit 10 reads as 1


def _ignore_kick(signum, frame):
    """No-op SIGUSR1 handler: its only job is to make KVM_RUN return EINTR."""


def ensure_kick_handler():
    """Install the no-op SIGUSR1 handler if none is installed.

    Returns True if a handler is in place.  Python only lets the main
    thread install handlers; elsewhere this returns False when none exists.
    """
    current = signal.getsignal(KICK_SIGNAL)
    if current not in (signal.SIG_DFL, signal.SIG_IGN):
        return True          # a Python handler or a foreign C handler
    if threading.current_thread() is not threading.main_thread():
        return False
    signal.signal(KICK_SIGNAL, _ignore_kick)
    return True


#: signals a helper thread blocks (the synchronous ones cannot be blocked
#: usefully): a process-directed SIGINT or SIGTERM must reach the thread
#: inside KVM_RUN, where it makes KVM_RUN return EINTR
_SYNCHRONOUS = {signal.SIGKILL, signal.SIGSTOP, signal.SIGSEGV, signal.SIGBUS,
                signal.SIGFPE, signal.SIGILL, signal.SIGTRAP, signal.SIGSYS,
                signal.SIGABRT}


def block_async_signals():
    """Block the asynchronous signals in the calling (helper) thread, so the
    kernel delivers them to the vCPU thread: a signal that lands on a helper
    thread would leave KVM_RUN running until its next exit."""
    signal.pthread_sigmask(signal.SIG_BLOCK, signal.valid_signals() - _SYNCHRONOUS)


def dr7_value(breakpoints):
    """DR7 for up to four hardware breakpoints.

    Each breakpoint is an address (an execution breakpoint) or a tuple
    ``(address, kind, length)`` with kind ``"x"`` (execute, length 1),
    ``"w"`` (write), ``"rw"`` (read/write) or ``"io"``, and length 1, 2, 4
    or 8 bytes.  Slot n uses enable bit Ln (2n), RWn (16+4n), LENn (18+4n).
    """
    normal = [_normalise_breakpoint(bp) for bp in breakpoints]
    if len(normal) > MAX_HW_BREAKPOINTS:
        raise ValueError(f"x86 has {MAX_HW_BREAKPOINTS} debug address "
                         f"registers; {len(normal)} breakpoints requested")
    dr7 = _DR7_FIXED1 if normal else 0
    for n, (_, kind, length) in enumerate(normal):
        dr7 |= 1 << (2 * n)
        dr7 |= _DR7_RW[kind] << (16 + 4 * n)
        dr7 |= _DR7_LEN[length] << (18 + 4 * n)
    return dr7


def _normalise_breakpoint(bp):
    if isinstance(bp, int):
        return bp, "x", 1
    address, kind, length = bp
    if kind not in _DR7_RW:
        raise ValueError(f"breakpoint kind {kind!r}: expected one of "
                         f"{sorted(_DR7_RW)}")
    if length not in _DR7_LEN:
        raise ValueError(f"breakpoint length {length}: expected 1, 2, 4 or 8")
    if kind == "x" and length != 1:
        raise ValueError("execution breakpoints must have length 1")
    return address, kind, length


@dataclass(frozen=True)
class Translation:
    """Result of KVM_TRANSLATE for one linear address."""

    linear_address: int
    physical_address: int
    valid: bool
    writeable: bool
    usermode: bool


class Vcpu:
    """One virtual CPU.  Created by ``Vm.create_vcpu()``."""

    def __init__(self, fd, vcpu_id, mmap_size):
        self._fd = fd
        self.id = vcpu_id
        self.mmap_size = mmap_size
        # ABI: the vCPU mmap: page 0 is struct kvm_run, then the PIO data
        # page (io.data_offset points there), then the coalesced-MMIO ring.
        self._mm = mmap.mmap(fd, mmap_size, mmap.MAP_SHARED,
                             mmap.PROT_READ | mmap.PROT_WRITE)
        self._view = memoryview(self._mm)
        # ABI: struct kvm_run at offset 0 of the vCPU mmap
        self._run = uapi.kvm_run.from_buffer(self._mm)
        # re-entrant: a signal handler on the vCPU thread may kick() while
        # that thread holds it (enter() waiting for another thread's kick)
        self._kick_lock = threading.RLock()
        self._running_thread = None
        self._kicking = False           # a kick() is looking for the thread
        ensure_kick_handler()

    # -- life cycle -----------------------------------------------------------

    def fileno(self):
        if self._fd < 0:
            raise ValueError("Vcpu is closed")
        return self._fd

    @property
    def closed(self):
        return self._fd < 0

    def close(self):
        """Close the fd and unmap kvm_run.

        If exit objects still hold memoryviews into the mapping, the
        mapping is left for the garbage collector to unmap.
        """
        if self._fd < 0:
            return
        os.close(self._fd)
        self._fd = -1
        self._run = None
        try:
            self._view.release()
            self._mm.close()
        except BufferError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        state = "closed" if self.closed else f"fd={self._fd}"
        return f"<Vcpu {self.id} {state}>"

    @property
    def kvm_run(self):
        """The live ``uapi.kvm_run`` struct on the vCPU mmap (read-write)."""
        if self._run is None:
            raise ValueError("Vcpu is closed")
        return self._run

    # -- running --------------------------------------------------------------

    def run(self):
        """One KVM_RUN; returns an exit object from ``kvm.exits``.

        EINTR (a signal, ``kick()`` or ``immediate_exit``) is not an error:
        it returns ``Intr()`` and clears ``immediate_exit``.
        """
        if self.enter():
            return decode(self._run, self._view)
        return Intr()

    def enter(self):
        """One KVM_RUN, the exit left undecoded in ``struct kvm_run``: True
        when the guest exited (read why from :attr:`run_view`, e.g. with
        ``exits.IO_HEAD``, or with ``exits.decode``), False when KVM_RUN was
        interrupted (EINTR: a signal, ``kick()`` or ``immediate_exit``; what
        ``run()`` returns as ``Intr``), ``immediate_exit`` then cleared.
        The per-exit path of an engine: no object is built."""
        # The kick handshake, without a lock per run: the thread is
        # published before KVM_RUN (kick() sets immediate_exit before it
        # looks, so a kick that finds no thread here still stops this run);
        # after KVM_RUN it is withdrawn, and then, if a kick() is under way
        # (it flags that before it looks for the thread), this waits for the
        # kick's lock: a kick that found the thread sends its signal while
        # the thread is still in here.  Each side stores, then loads what the
        # other stores; the GIL orders them.
        self._running_thread = _get_ident()
        try:
            # ABI: KVM_RUN takes no argument; results land in struct kvm_run
            ioctl_noarg(self._fd, _KVM_RUN)
        except OSError as exc:
            self._left_run()
            return self._run_failed(exc.errno)
        except BaseException as exc:    # (a signal handler's exception too)
            self._left_run()
            if isinstance(exc, ValueError) and self._fd < 0:   # fcntl refuses fd -1
                raise ValueError("Vcpu is closed") from None
            raise
        self._running_thread = None
        if self._kicking:
            self._left_run()
        return True

    def _left_run(self):
        """Withdraw the thread; if a kick() is under way, wait for it."""
        self._running_thread = None
        if self._kicking:
            with self._kick_lock:
                pass

    def _run_failed(self, err):
        """KVM_RUN failed with ``err``: False for EINTR (``immediate_exit``
        cleared), True for a memory fault KVM describes, else raise."""
        run = self._run
        if err == errno.EINTR:
            run.immediate_exit = 0      # ABI: kvm_run.immediate_exit
            return False
        if err == errno.EFAULT and run.exit_reason == uapi.KVM_EXIT_MEMORY_FAULT:
            return True                 # api.rst: the exit is described
        raise ioctl_error(_KVM_RUN, err, self._run_advice)

    @property
    def running(self):
        """Is a thread inside KVM_RUN (``enter()``) now?"""
        return self._running_thread is not None

    @property
    def run_view(self):
        """A writable memoryview of the whole vCPU mmap (``struct kvm_run``
        at offset 0, the PIO data page after it), valid until ``close()``."""
        if self._run is None:
            raise ValueError("Vcpu is closed")
        return self._view

    def kick(self):
        """Make the current (or next) ``run()`` return ``Intr``.

        Safe to call from any thread.  Sets ``immediate_exit`` and, if
        another thread is inside ``run()``, sends it SIGUSR1.
        """
        self.kvm_run.immediate_exit = 1     # ABI: kvm_run.immediate_exit
        with self._kick_lock:
            self._kicking = True
            try:
                target = self._running_thread
                if target is None or target == threading.get_ident():
                    return
                if not ensure_kick_handler():
                    raise RuntimeError(
                        "no SIGUSR1 handler is installed, and one can only be "
                        "installed from the main thread: create the Vcpu there")
                signal.pthread_kill(target, KICK_SIGNAL)
            finally:
                self._kicking = False

    @property
    def immediate_exit(self):
        # ABI: kvm_run.immediate_exit (u8, polled at KVM_RUN entry)
        return bool(self.kvm_run.immediate_exit)

    @immediate_exit.setter
    def immediate_exit(self, value):
        self.kvm_run.immediate_exit = 1 if value else 0

    @property
    def request_interrupt_window(self):
        # ABI: kvm_run.request_interrupt_window
        return bool(self.kvm_run.request_interrupt_window)

    @request_interrupt_window.setter
    def request_interrupt_window(self, value):
        self.kvm_run.request_interrupt_window = 1 if value else 0

    @property
    def ready_for_interrupt_injection(self):
        # ABI: kvm_run.ready_for_interrupt_injection
        return bool(self.kvm_run.ready_for_interrupt_injection)

    @property
    def if_flag(self):
        """Guest RFLAGS.IF at the last exit (no in-kernel LAPIC only)."""
        return bool(self.kvm_run.if_flag)          # ABI: kvm_run.if_flag

    def _run_advice(self, err):
        if err == errno.EFAULT:
            return ("KVM could not access guest memory: is the memory a "
                    "memory slot points to still mapped?")
        if err == errno.ENOEXEC:
            return "the vCPU state cannot be run (set regs/sregs first?)"
        return None

    # -- register state -------------------------------------------------------

    def _get(self, request, ctype):
        value = ctype()
        # ABI: the KVM_GET_* ioctls fill the struct passed by pointer
        ioctl(self.fileno(), request, value)
        return value

    def get_regs(self):
        """KVM_GET_REGS: a ``uapi.kvm_regs``."""
        return self._get(uapi.KVM_GET_REGS, uapi.kvm_regs)

    def set_regs(self, regs):
        """KVM_SET_REGS from a ``uapi.kvm_regs`` (rflags bit 1 must be set)."""
        # ABI: KVM_SET_REGS takes struct kvm_regs *
        ioctl(self.fileno(), uapi.KVM_SET_REGS, regs)

    def get_sregs(self):
        """KVM_GET_SREGS: a ``uapi.kvm_sregs`` (segments, CRs, EFER ...)."""
        return self._get(uapi.KVM_GET_SREGS, uapi.kvm_sregs)

    def set_sregs(self, sregs):
        """KVM_SET_SREGS; EINVAL is explained field by field."""
        def advise(err):
            return sregs_advice(sregs) if err == errno.EINVAL else None
        # ABI: KVM_SET_SREGS takes struct kvm_sregs *
        ioctl(self.fileno(), uapi.KVM_SET_SREGS, sregs, advise=advise)

    def explain_state(self):
        """``explain_sregs()`` of the current special registers."""
        return explain_sregs(self.get_sregs())

    def get_fpu(self):
        """KVM_GET_FPU: a ``uapi.kvm_fpu`` (legacy FXSAVE-like state)."""
        return self._get(uapi.KVM_GET_FPU, uapi.kvm_fpu)

    def set_fpu(self, fpu):
        # ABI: KVM_SET_FPU takes struct kvm_fpu *
        ioctl(self.fileno(), uapi.KVM_SET_FPU, fpu)

    def get_vcpu_events(self):
        """KVM_GET_VCPU_EVENTS: pending/injected exception, irq, NMI, SMI."""
        return self._get(uapi.KVM_GET_VCPU_EVENTS, uapi.kvm_vcpu_events)

    def set_vcpu_events(self, events):
        """KVM_SET_VCPU_EVENTS; ``events.flags`` picks optional fields."""
        # ABI: KVM_SET_VCPU_EVENTS takes struct kvm_vcpu_events *
        ioctl(self.fileno(), uapi.KVM_SET_VCPU_EVENTS, events)

    def get_debugregs(self):
        """KVM_GET_DEBUGREGS: the guest's own DR0-3, DR6, DR7."""
        return self._get(uapi.KVM_GET_DEBUGREGS, uapi.kvm_debugregs)

    def set_debugregs(self, debugregs):
        # ABI: KVM_SET_DEBUGREGS takes struct kvm_debugregs *
        ioctl(self.fileno(), uapi.KVM_SET_DEBUGREGS, debugregs)

    def get_mp_state(self):
        """KVM_GET_MP_STATE: an int (``uapi.KVM_MP_STATE_*``)."""
        return self._get(uapi.KVM_GET_MP_STATE, uapi.kvm_mp_state).mp_state

    def set_mp_state(self, state):
        # ABI: KVM_SET_MP_STATE takes struct kvm_mp_state *
        ioctl(self.fileno(), uapi.KVM_SET_MP_STATE,
              uapi.kvm_mp_state(mp_state=state))

    # -- CPUID and MSRs -------------------------------------------------------

    def set_cpuid2(self, entries):
        """KVM_SET_CPUID2 from a list of ``uapi.kvm_cpuid_entry2``.

        Usually ``Kvm.get_supported_cpuid()``, optionally edited; do it
        before the first ``run()``.
        """
        entries = list(entries)
        buf = uapi.cpuid2_type(len(entries))(nent=len(entries))
        for i, entry in enumerate(entries):
            buf.entries[i] = entry
        # ABI: KVM_SET_CPUID2 takes struct kvm_cpuid2 * with nent entries
        ioctl(self.fileno(), uapi.KVM_SET_CPUID2, buf)

    def get_cpuid2(self, max_entries=256):
        """KVM_GET_CPUID2: the vCPU's CPUID entries (as last set)."""
        buf = uapi.cpuid2_type(max_entries)(nent=max_entries)
        # ABI: KVM_GET_CPUID2 takes struct kvm_cpuid2 * (nent in: capacity)
        ioctl(self.fileno(), uapi.KVM_GET_CPUID2, buf)
        return [uapi.kvm_cpuid_entry2.from_buffer_copy(e)
                for e in buf.entries[:buf.nent]]

    def get_msrs(self, indices):
        """KVM_GET_MSRS: ``{index: value}`` for the MSR numbers given."""
        indices = list(indices)
        buf = uapi.msrs_type(len(indices))(nmsrs=len(indices))
        for i, index in enumerate(indices):
            buf.entries[i].index = index
        # ABI: KVM_GET_MSRS takes struct kvm_msrs *; returns how many it read
        done = ioctl(self.fileno(), uapi.KVM_GET_MSRS, buf)
        if done < len(indices):
            raise KvmError("KVM_GET_MSRS", 0,
                           f"MSR {indices[done]:#x} cannot be read on this "
                           f"host ({done} of {len(indices)} read)")
        return {entry.index: entry.data for entry in buf.entries}

    def set_msrs(self, values):
        """KVM_SET_MSRS from ``{index: value}``."""
        items = list(values.items())
        buf = uapi.msrs_type(len(items))(nmsrs=len(items))
        for i, (index, value) in enumerate(items):
            buf.entries[i].index = index
            buf.entries[i].data = value
        # ABI: KVM_SET_MSRS takes struct kvm_msrs *; returns how many it wrote
        done = ioctl(self.fileno(), uapi.KVM_SET_MSRS, buf)
        if done < len(items):
            index, value = items[done]
            raise KvmError("KVM_SET_MSRS", 0,
                           f"MSR {index:#x} refused value {value:#x} "
                           f"({done} of {len(items)} written)")

    # -- debugging ------------------------------------------------------------

    def set_guest_debug(self, enable=True, single_step=False,
                        hw_breakpoints=(), sw_breakpoints=False):
        """KVM_SET_GUEST_DEBUG.

        ``single_step``: a Debug exit after every instruction.
        ``hw_breakpoints``: up to 4 linear addresses (execution) or
        ``(address, kind, length)`` tuples, see ``dr7_value()``.  An
        execution breakpoint exits BEFORE the instruction (pc = address);
        to continue, disarm it or set RFLAGS.RF.
        ``sw_breakpoints``: int3 in the guest exits to the VMM instead of
        running the guest's #BP handler.
        ``enable=False`` turns all of it off (control = 0).
        """
        arg = uapi.kvm_guest_debug()
        if enable:
            control = uapi.KVM_GUESTDBG_ENABLE
            if single_step:
                control |= uapi.KVM_GUESTDBG_SINGLESTEP
            if sw_breakpoints:
                control |= uapi.KVM_GUESTDBG_USE_SW_BP
            breakpoints = [_normalise_breakpoint(bp) for bp in hw_breakpoints]
            if breakpoints:
                control |= uapi.KVM_GUESTDBG_USE_HW_BP
                for n, (address, _, _) in enumerate(
                        breakpoints[:MAX_HW_BREAKPOINTS]):
                    arg.arch.debugreg[n] = address
                # ABI: kvm_guest_debug.arch.debugreg[7] is DR7
                arg.arch.debugreg[7] = dr7_value(breakpoints)
            arg.control = control
        # ABI: KVM_SET_GUEST_DEBUG takes struct kvm_guest_debug *
        ioctl(self.fileno(), uapi.KVM_SET_GUEST_DEBUG, arg)

    # -- interrupts and translation -------------------------------------------

    def interrupt(self, vector):
        """KVM_INTERRUPT: queue interrupt ``vector`` (userspace PIC only)."""
        # ABI: KVM_INTERRUPT takes struct kvm_interrupt * (irq = vector)
        ioctl(self.fileno(), uapi.KVM_INTERRUPT,
              uapi.kvm_interrupt(irq=vector))

    def nmi(self):
        """KVM_NMI: queue an NMI."""
        # ABI: KVM_NMI takes no argument
        ioctl(self.fileno(), uapi.KVM_NMI, 0)

    def translate(self, linear):
        """KVM_TRANSLATE: the guest page tables' view of ``linear``."""
        arg = uapi.kvm_translation(linear_address=linear)
        # ABI: KVM_TRANSLATE takes struct kvm_translation * (in/out)
        ioctl(self.fileno(), uapi.KVM_TRANSLATE, arg)
        return Translation(linear, arg.physical_address, bool(arg.valid),
                           bool(arg.writeable), bool(arg.usermode))

    # -- sync regs (KVM_CAP_SYNC_REGS) ----------------------------------------

    @property
    def sync_valid(self):
        """``kvm_run.kvm_valid_regs``: which parts KVM mirrors into
        ``sync_regs`` on every exit (``uapi.KVM_SYNC_X86_REGS`` | ...)."""
        return self.kvm_run.kvm_valid_regs    # ABI: kvm_run.kvm_valid_regs

    @sync_valid.setter
    def sync_valid(self, bits):
        self.kvm_run.kvm_valid_regs = bits

    @property
    def sync_dirty(self):
        """``kvm_run.kvm_dirty_regs``: parts of ``sync_regs`` userspace
        changed, loaded by KVM on the next run (then cleared by KVM)."""
        return self.kvm_run.kvm_dirty_regs    # ABI: kvm_run.kvm_dirty_regs

    @sync_dirty.setter
    def sync_dirty(self, bits):
        self.kvm_run.kvm_dirty_regs = bits

    @property
    def sync_regs(self):
        """The live ``uapi.kvm_sync_regs`` (regs, sregs, events) in kvm_run."""
        return self.kvm_run.s.regs            # ABI: kvm_run.s.regs

