"""KvmError, the single checked ioctl entry point, and state explanations.

What is modelled: the error side of the KVM API (``Documentation/virt/kvm/
api.rst``; reference ``kvm_qmp_gdb.md`` §1.1 "Python gotchas", §1.6 and
§1.7).  Every ioctl in the package goes through ``ioctl()`` here, which calls
libc's ``ioctl`` through ctypes (``fcntl.ioctl`` would parse an integer
argument as a signed C int, so ``KVM_SET_TSS_ADDR(0xfffbd000)`` would fail
with OverflowError) and turns ``-1`` into a ``KvmError`` naming the ioctl and
the errno -- all but KVM_RUN, which takes no argument and is made through
``fcntl.ioctl`` (:data:`ioctl_noarg`), the cheaper call, once per exit.

``explain_sregs()`` reads a ``kvm_sregs`` the way KVM's
``kvm_is_valid_sregs()`` / ``kvm_is_valid_cr0()`` (arch/x86/kvm/x86.c) and
the SDM's VM-entry guest-state checks (Vol. 3C §27.3.1) do, and says in words
which part of the state is inconsistent.  It is advisory: the kernel remains
the judge, and a host may refuse state for reasons not listed here.
"""

import ctypes
import errno as errno_mod
import fcntl
import grp
import os

from . import uapi

#: the advice given whenever /dev/kvm cannot be used at all
NO_KVM_ADVICE = "KVM is not available here; use -accel tcg"


class KvmError(OSError):
    """A KVM call failed.

    ``ioctl_name`` is the kernel name of the call (``"KVM_SET_SREGS"``) or
    ``"open(<path>)"``; ``errno`` the errno (0 when the call succeeded but
    returned something unusable, such as a wrong API version); ``advice`` a
    sentence for the learner, or None.  ``str()`` is one line.
    """

    def __init__(self, ioctl_name, errno, advice=None):
        super().__init__(errno, os.strerror(errno) if errno else "")
        self.ioctl_name = ioctl_name
        self.advice = advice

    def __str__(self):
        if self.errno:
            name = errno_mod.errorcode.get(self.errno, str(self.errno))
            text = f"{self.ioctl_name} failed: {name} ({self.strerror})"
        else:
            text = f"{self.ioctl_name} failed"
        if self.advice:
            text += f": {self.advice}"
        return " ".join(text.split())     # always one line

    def __reduce__(self):
        return (type(self), (self.ioctl_name, self.errno, self.advice))


# ABI: int ioctl(int fd, unsigned long request, ...); the third argument
# is passed either as an unsigned long value or as a pointer.  Loading the C
# library opens no device; this private function object is never mutated
# after import.
_LIBC = ctypes.CDLL(None, use_errno=True)
_LIBC_IOCTL = _LIBC.ioctl
_LIBC_IOCTL.restype = ctypes.c_int
# The same libc ioctl with the argument types fixed (int, unsigned long,
# unsigned long): called with plain ints, no ctypes objects are built per
# call.
_LIBC_IOCTL_VALUE = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int, ctypes.c_ulong,
                                     ctypes.c_ulong, use_errno=True)(("ioctl", _LIBC))


def ioctl(fd, request, arg=0, advise=None):
    """Call ``ioctl(fd, request, arg)``; return its non-negative result.

    ``arg`` is an int (passed as C ``unsigned long``) or a ctypes object
    (passed by reference).  On failure raise ``KvmError``; ``advise`` is an
    optional callable ``advise(errno) -> str | None`` adding advice.  The
    GIL is released during the call (ctypes foreign call), so a vCPU thread
    in KVM_RUN does not block other Python threads.
    """
    if isinstance(arg, int):
        result = _LIBC_IOCTL_VALUE(fd, request, arg)
    else:
        result = _LIBC_IOCTL(fd, ctypes.c_ulong(request), ctypes.byref(arg))
    if result < 0:
        raise ioctl_error(request, ctypes.get_errno(), advise)
    return result


#: ``ioctl_noarg(fd, request)``: an ioctl that takes no argument (KVM_RUN,
#: once per exit), through ``fcntl.ioctl`` called without its third
#: argument: then it parses nothing and calls ``ioctl(fd, request, 0)``
#: directly, the GIL released -- a C call costing a fraction of a ctypes
#: foreign call (about 1 us per call on a nested host, as much as a tenth
#: of the exit).  Returns the result; a failure raises ``OSError`` with the
#: errno (``InterruptedError`` for EINTR, after any Python signal handler
#: ran), which the caller sorts (KVM_RUN's EINTR is no error), see
#: :func:`ioctl_error`.  ``request`` must fit a C unsigned int.
ioctl_noarg = fcntl.ioctl


def ioctl_error(request, err, advise=None):
    """The ``KvmError`` for ioctl ``request`` failing with ``err``."""
    advice = advise(err) if advise else None
    name = uapi.IOCTL_NAMES.get(request, f"ioctl {request:#x}")
    return KvmError(name, err, advice or generic_advice(name, err))


def generic_advice(name, err):
    """Advice that applies to any ioctl with this errno, or None."""
    if err == errno_mod.ENOTTY:
        return ("the file descriptor does not understand this ioctl "
                "(not a KVM device, or the wrong fd level)")
    if err == errno_mod.EFAULT:
        return "the kernel could not read or write the memory we passed"
    if err == errno_mod.ENXIO and name == "KVM_INTERRUPT":
        return ("KVM_INTERRUPT is only for a userspace PIC "
                "(no KVM_CREATE_IRQCHIP)")
    if err == errno_mod.EEXIST and name == "KVM_INTERRUPT":
        return "an interrupt is already queued; wait for the next exit"
    return None


def open_advice(path, err):
    """Advice for a failed ``open()`` of the KVM device node."""
    if err in (errno_mod.ENOENT, errno_mod.ENODEV, errno_mod.ENXIO):
        return f"{path} does not exist; {NO_KVM_ADVICE}"
    if err in (errno_mod.EACCES, errno_mod.EPERM):
        try:
            group = grp.getgrgid(os.stat(path).st_gid).gr_name
        except (OSError, KeyError):
            group = "kvm"
        return (f"no permission to open {path}: join the group '{group}' "
                f"(sudo usermod -aG {group} $USER, then log in again), "
                f"or {NO_KVM_ADVICE}")
    return NO_KVM_ADVICE


def api_version_advice(version):
    """Advice when KVM_GET_API_VERSION is not 12."""
    return (f"the kernel reports KVM API version {version}, but this binding "
            f"speaks version 12 (frozen since Linux 2.6.22); {NO_KVM_ADVICE}")


# ---------------------------------------------------------------------------
# explain_sregs
# ---------------------------------------------------------------------------

_SEGMENTS = ("cs", "ds", "es", "fs", "gs", "ss")


def _bit(value, mask):
    return bool(value & mask)


def explain_sregs(sregs):
    """List, in words, what is inconsistent in a ``kvm_sregs``.

    Returns a list of strings (empty when nothing is found).  The first
    group mirrors the checks KVM_SET_SREGS makes before answering EINVAL;
    the second the VM-entry checks a VMX/SVM CPU makes (those surface as
    FAIL_ENTRY or SHUTDOWN rather than EINVAL).
    """
    problems = []
    cr0, cr4, efer = sregs.cr0, sregs.cr4, sregs.efer
    pg, pe = _bit(cr0, uapi.X86_CR0_PG), _bit(cr0, uapi.X86_CR0_PE)
    lme, lma = _bit(efer, uapi.EFER_LME), _bit(efer, uapi.EFER_LMA)
    cs = sregs.cs

    # -- what kvm_is_valid_sregs() / kvm_is_valid_cr0() reject (EINVAL) -------
    if cr0 >> 32:
        problems.append(f"CR0 {cr0:#x} sets reserved bits 63:32")
    if pg and not pe:
        problems.append("CR0.PG (paging) is set without CR0.PE "
                        "(protected mode)")
    if _bit(cr0, uapi.X86_CR0_NW) and not _bit(cr0, uapi.X86_CR0_CD):
        problems.append("CR0.NW is set without CR0.CD")
    if lme and pg:
        if not lma:
            problems.append("EFER.LME and CR0.PG are set (long mode) but "
                            "EFER.LMA is clear: set EFER.LMA too")
        if not _bit(cr4, uapi.X86_CR4_PAE):
            problems.append("long mode (EFER.LME + CR0.PG) needs CR4.PAE")
        if sregs.cr3 >> 52:
            problems.append(f"CR3 {sregs.cr3:#x} points beyond the "
                            "physical address width")
    else:
        if lma:
            problems.append("EFER.LMA is set but the CPU is not in long "
                            "mode (that needs EFER.LME and CR0.PG)")
        if cs.l:
            problems.append("CS.L (64-bit code) is set outside long mode")
    if cr4 >> 32:
        problems.append(f"CR4 {cr4:#x} sets reserved bits 63:32")
    if _bit(cr4, uapi.X86_CR4_PCIDE) and not lma:
        problems.append("CR4.PCIDE is set outside long mode")
    if _bit(cr4, uapi.X86_CR4_OSXSAVE):
        problems.append("CR4.OSXSAVE is set: KVM may refuse it unless "
                        "the guest CPUID advertises XSAVE (call "
                        "set_cpuid2 first)")
    if _bit(cr4, uapi.X86_CR4_LA57):
        problems.append("CR4.LA57 is set: KVM may refuse it unless the "
                        "guest CPUID advertises 5-level paging (call "
                        "set_cpuid2 first)")
    if sum(bin(word).count("1") for word in sregs.interrupt_bitmap) > 1:
        problems.append("interrupt_bitmap has more than one pending "
                        "interrupt (at most one bit may be set)")
    if sregs.apic_base & 0x2FF:
        problems.append(f"apic_base {sregs.apic_base:#x} sets reserved "
                        "bits (0-7, 9)")
    if _bit(sregs.apic_base, 1 << 10) and not _bit(sregs.apic_base, 1 << 11):
        problems.append("apic_base enables x2APIC (bit 10) without "
                        "enabling the APIC (bit 11)")

    # -- what VM entry rejects (FAIL_ENTRY / SHUTDOWN on VMX/SVM) -------------
    if cs.l and cs.db:
        problems.append("CS.L and CS.DB are both set (reserved "
                        "combination)")
    if pe:
        problems.extend(_protected_mode_segment_problems(sregs))
    return problems


def _protected_mode_segment_problems(sregs):
    problems = []
    cs = sregs.cs
    if not cs.present:
        problems.append("CS is not present")
    elif not cs.s:
        problems.append("CS.s is 0: CS must be a code segment "
                        "(descriptor type S=1)")
    elif not cs.type & 0x8:
        problems.append(f"CS.type {cs.type} is a data type; CS needs a "
                        "code type (8-15, e.g. 11)")
    ss = sregs.ss
    if ss.present and not ss.unusable:
        if not ss.s or ss.type & 0x8 or not ss.type & 0x2:
            problems.append(f"SS.type {ss.type} (s={ss.s}) is not a "
                            "writable data segment (type 2, 3, 6 or 7)")
        if ss.dpl != cs.dpl and cs.type & 0x4 == 0:
            problems.append(f"SS.DPL {ss.dpl} differs from CS.DPL "
                            f"{cs.dpl}")
    for name in ("ds", "es", "fs", "gs"):
        seg = getattr(sregs, name)
        if seg.present and not seg.unusable:
            if not seg.s:
                problems.append(f"{name.upper()}.s is 0: a data segment "
                                "register needs S=1")
            elif seg.type & 0x8 and not seg.type & 0x2:
                problems.append(f"{name.upper()}.type {seg.type} is an "
                                "execute-only code segment (unreadable)")
    for name in _SEGMENTS:
        seg = getattr(sregs, name)
        if seg.present and not seg.unusable and seg.g:
            if seg.limit & 0xFFF != 0xFFF:
                problems.append(f"{name.upper()}.g is set but limit "
                                f"{seg.limit:#x} does not end in 0xfff")
        elif seg.present and not seg.unusable and seg.limit > 0xFFFFF:
            problems.append(f"{name.upper()}.limit {seg.limit:#x} needs "
                            "G=1 (byte granularity stops at 0xfffff)")
    tr = sregs.tr
    if tr.present and (tr.s or tr.type not in (3, 11)):
        problems.append(f"TR.type {tr.type} (s={tr.s}) is not a busy TSS "
                        "(type 3 or 11, S=0)")
    return problems


def sregs_advice(sregs):
    """Advice for KVM_SET_SREGS failing with EINVAL on ``sregs``."""
    problems = explain_sregs(sregs)
    if not problems:
        return ("KVM rejected the special registers, and no inconsistency "
                "was found by explain_sregs()")
    return "inconsistent state: " + "; ".join(problems)
