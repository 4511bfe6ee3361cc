"""What this host's KVM does differently from the SDM: tiny probe guests.

What is modelled: a handful of architectural rules of the Intel SDM that a
hardware-virtualised guest relies on, each checked with a guest of a few
instructions on a throw-away VM (reference ``kvm_qmp_gdb.md`` §1.7, §1.8,
§1.10 "probe at start-up").  Nested or software KVMs (this host's
``kvm_pvm``) break some of them silently: the guest just sees another CPU.

* ``real_mode_idt_limit`` -- SDM Vol. 3A §20.1.4 (real-mode interrupt
  handling): an INT whose IVT entry lies beyond the IDTR limit raises #GP;
  with limit 0 that becomes a double fault and a triple fault (shutdown).
  Guest: ``lidt`` (limit 0), ``int3``; the IVT entry of vector 3 points at
  code that writes port 0x80.  Honoured: SHUTDOWN.  Ignored: the handler runs.
* ``long_mode_iopl`` -- SDM Vol. 1 §19.5.1 (I/O privilege level), Vol. 3A
  §2.3 (CLI/STI): at CPL 3 with IOPL 0 an OUT (no I/O bitmap) raises #GP;
  with IOPL 3, CLI and OUT run.  Two ring-3 64-bit guests: ``out 0x80, al``
  at IOPL 0 (honoured: SHUTDOWN, no IDT) and ``cli; out 0x80, al`` at IOPL 3
  (honoured: an IO exit).
* ``paging32`` / ``paging_pae`` -- SDM Vol. 3A §4.3 / §4.4: 32-bit and PAE
  paging outside long mode.  Guest: 32-bit protected mode turns paging on
  itself (one identity-mapped large page) and writes port 0x80.  Works: an
  IO exit with CR0.PG set.  Not: any other end (this host drops CR0.PG and
  the guest faults).
* ``pm_idt_interrupt`` -- SDM Vol. 3A §6.12: ``int 0x30`` through a 32-bit
  interrupt gate in ring-0 protected mode.  Works: the handler writes port
  0x80.  Not: an emulation failure (``kvm_pvm`` runs ring-0 protected mode in
  the host kernel's instruction emulator).
* ``syscall_ring0`` -- SDM Vol. 2B SYSCALL: from ring 3 in 64-bit mode it
  enters ring 0 at IA32_LSTAR with CS from IA32_STAR.  Guest: ``syscall``
  from ring 3 to an entry point that executes HLT (privileged).  Works: an
  HLT exit.  Not: SHUTDOWN (#GP at CPL 3, no IDT).

Each probe runs on its own VM and is bounded: every path ends in a VM exit,
and a watchdog kicks the vCPU after ``PROBE_TIMEOUT`` seconds.

Results are cached per boot (the key is ``/proc/sys/kernel/random/boot_id``,
the device path and :data:`PROBE_VERSION`) in ``$XDG_CACHE_HOME/kasou`` or
``~/.cache/kasou`` (``KASOU_CACHE_DIR`` overrides both); :func:`host_limits`
reads the cache or probes, ``refresh=True`` probes again.  ``python -m kvm
probe [--refresh] [--json]`` and ``emu kvm-probe`` print them;
:func:`explain` turns them into the notes ``emu run -accel kvm`` prints when a
run ends abnormally.
"""

from __future__ import annotations

import json
import mmap
import os
import struct
import threading
from dataclasses import asdict, dataclass

from . import uapi
from .errors import KvmError
from .exits import Hlt, InternalError, Intr, IoOut, Shutdown
from .system import Kvm, device_path
from .vcpu import block_async_signals

#: bump when a probe changes: older cache files are then ignored
PROBE_VERSION = 1
PROBE_TIMEOUT = 1.0
CACHE_NAME = "kvm-probe.json"
BOOT_ID = "/proc/sys/kernel/random/boot_id"

_RAM = 0x200000                 # 2 MiB at GPA 0: one large page maps it all
_CODE = 0x1000
_CR0_PE, _CR0_ET, _CR0_NE, _CR0_PG = 1, 0x10, 0x20, 0x80000000
_CR4_PSE, _CR4_PAE = 0x10, 0x20
_EFER_SCE, _EFER_LME, _EFER_LMA = 0x1, 0x100, 0x400
_MSR_EFER, _MSR_STAR, _MSR_LSTAR, _MSR_FMASK = 0xC0000080, 0xC0000081, 0xC0000082, 0xC0000084


@dataclass
class Limit:
    """One probed rule: ``ok`` True (as the SDM says), False (this host
    differs), None (the probe could not tell); ``seen`` what the probe guest
    got; ``meaning`` what a guest that relies on the rule sees here."""

    name: str
    rule: str
    ok: bool | None
    seen: str
    meaning: str
    modes: tuple = ()           # the CPU modes where the rule matters


# -- the probe guests ----------------------------------------------------------------------------

class _Probe:
    """A throw-away VM with 2 MiB of RAM and one vCPU."""

    def __init__(self, system):
        self.vm = system.create_vm()
        self.ram = mmap.mmap(-1, _RAM)
        self.vm.map_memory(0, 0, self.ram)
        self.vcpu = self.vm.create_vcpu(0)
        self.vcpu.set_cpuid2(system.get_supported_cpuid())
        self.sregs = self.vcpu.get_sregs()

    def close(self):
        self.vm.close()
        self.ram.close()

    def put(self, addr, data):
        self.ram[addr:addr + len(data)] = bytes(data)

    def run(self):
        """KVM_RUN until an exit other than EINTR; a watchdog bounds it."""
        done = threading.Event()

        def watchdog():
            block_async_signals()
            if not done.wait(PROBE_TIMEOUT):
                self.vcpu.kick()
        t = threading.Thread(target=watchdog, name="kvm-probe-watchdog", daemon=True)
        t.start()
        try:
            return self.vcpu.run()
        finally:
            done.set()
            t.join()

    # CPU modes -------------------------------------------------------------------
    def real_mode(self):
        s = self.sregs
        s.cs.base = s.cs.selector = 0
        self.vcpu.set_sregs(s)

    def protected32(self, gdt=0x500):
        """Flat ring-0 32-bit protected mode with a GDT in memory."""
        self.put(gdt, struct.pack("<3Q", 0, 0x00CF9A000000FFFF, 0x00CF92000000FFFF))
        s = self.sregs
        _flat(s.cs, 0x08, 11, dpl=0, db=1)
        for seg in (s.ds, s.es, s.fs, s.gs, s.ss):
            _flat(seg, 0x10, 3, dpl=0, db=1)
        s.gdt.base, s.gdt.limit = gdt, 23
        s.cr0 = _CR0_PE | _CR0_ET | _CR0_NE
        self.vcpu.set_sregs(s)

    def long_mode_ring3(self):
        """64-bit mode, CPL 3, one 2 MiB user page mapping GPA 0 at 0; no IDT."""
        self.put(0x2000, struct.pack("<Q", 0x3000 | 7))       # PML4[0] -> PDPT
        self.put(0x3000, struct.pack("<Q", 0x4000 | 7))       # PDPT[0] -> PD
        self.put(0x4000, struct.pack("<Q", 0x87))             # PD[0]: 2 MiB, P|RW|US|PS
        self.put(0x500, struct.pack("<6Q", 0, 0x00AF9A000000FFFF, 0x00CF92000000FFFF,
                                    0x00CFF2000000FFFF, 0x00AFFA000000FFFF, 0))
        s = self.sregs
        _flat(s.cs, 0x23, 11, dpl=3, db=0, l=1)
        for seg in (s.ds, s.es, s.fs, s.gs, s.ss):
            _flat(seg, 0x1B, 3, dpl=3, db=1)
        s.tr.base, s.tr.limit, s.tr.selector, s.tr.type = 0x600, 0x67, 0x28, 11
        s.tr.present, s.tr.s = 1, 0
        s.gdt.base, s.gdt.limit = 0x500, 47
        s.idt.base, s.idt.limit = 0, 0
        s.cr3, s.cr4 = 0x2000, _CR4_PAE
        s.cr0 = _CR0_PE | _CR0_ET | _CR0_NE | _CR0_PG
        s.efer = _EFER_LME | _EFER_LMA | _EFER_SCE
        self.vcpu.set_sregs(s)


def _flat(seg, selector, type_, dpl, db, l=0):
    seg.base, seg.limit, seg.selector, seg.type = 0, 0xFFFFFFFF, selector, type_
    seg.present, seg.dpl, seg.db, seg.s, seg.l, seg.g = 1, dpl, db, 1, l, 1
    seg.unusable = 0


def _seen(ex):
    """A probe's exit, in words."""
    if isinstance(ex, IoOut):
        return f"OUT port {ex.port:#x} value {bytes(ex.data)[0]:#04x}"
    if isinstance(ex, Shutdown):
        return "SHUTDOWN (triple fault)"
    if isinstance(ex, Intr):
        return f"still running after {PROBE_TIMEOUT:g} s (stopped by the probe)"
    return ex.describe() if hasattr(ex, "describe") else type(ex).__name__


def _wrote(ex, value):
    return isinstance(ex, IoOut) and ex.port == 0x80 and bytes(ex.data)[:1] == bytes([value])


def probe_real_mode_idt_limit(make):
    p = make()
    p.real_mode()
    p.put(0x0C, struct.pack("<HH", 0x1200, 0))          # IVT[3] -> 0000:1200
    p.put(0x1100, struct.pack("<HI", 0, 0))             # IDTR image: limit 0, base 0
    p.put(_CODE, bytes([0x0F, 0x01, 0x1E, 0x00, 0x11,   # lidt [0x1100]
                        0xCC,                           # int3
                        0xF4]))                         # hlt
    p.put(0x1200, bytes([0xB0, 0x33, 0xE6, 0x80, 0xF4]))   # mov al, 0x33; out 0x80, al; hlt
    p.vcpu.set_regs(uapi.kvm_regs(rip=_CODE, rsp=0x8000, rflags=2))
    ex = p.run()
    if isinstance(ex, Shutdown):
        return True, _seen(ex)
    if _wrote(ex, 0x33):
        return False, "the INT 3 handler ran (" + _seen(ex) + ")"
    return None, _seen(ex)


def probe_long_mode_iopl(make):
    """Two guests: at IOPL 0, OUT must fault; at IOPL 3, CLI and OUT must run."""
    p = make()
    p.long_mode_ring3()
    p.put(_CODE, bytes([0xB0, 0x44, 0xE6, 0x80, 0xF4]))    # mov al, 0x44; out 0x80, al; hlt
    p.vcpu.set_regs(uapi.kvm_regs(rip=_CODE, rsp=0x8000, rflags=0x0002))
    low = p.run()
    p = make()
    p.long_mode_ring3()
    p.put(_CODE, bytes([0xFA, 0xB0, 0x45, 0xE6, 0x80, 0xF4]))  # cli; mov al, 0x45; out 0x80, al; hlt
    p.vcpu.set_regs(uapi.kvm_regs(rip=_CODE, rsp=0x8000, rflags=0x3002))
    high = p.run()
    seen = f"IOPL 0, OUT: {_seen(low)}; IOPL 3, CLI and OUT: {_seen(high)}"
    if isinstance(low, Shutdown) and _wrote(high, 0x45):
        return True, seen
    if _wrote(low, 0x44) or isinstance(high, Shutdown):
        return False, seen
    return None, seen


def _probe_paging(make, pae):
    p = make()
    p.protected32()
    if pae:
        p.put(0x2000, struct.pack("<4Q", 0x3000 | 1, 0, 0, 0))   # PDPTE[0] -> PD
        p.put(0x3000, struct.pack("<Q", 0x87))                   # PD[0]: 2 MiB page
        cr4 = _CR4_PAE
    else:
        p.put(0x2000, struct.pack("<I", 0x87))                   # PDE[0]: 4 MiB page
        cr4 = _CR4_PSE
    p.put(_CODE, bytes([0xB8]) + struct.pack("<I", 0x2000)       # mov eax, 0x2000
          + bytes([0x0F, 0x22, 0xD8,                             # mov cr3, eax
                   0xB8]) + struct.pack("<I", cr4)               # mov eax, cr4 bits
          + bytes([0x0F, 0x22, 0xE0,                             # mov cr4, eax
                   0x0F, 0x20, 0xC0,                             # mov eax, cr0
                   0x0D, 0x00, 0x00, 0x00, 0x80,                 # or eax, 0x80000000
                   0x0F, 0x22, 0xC0,                             # mov cr0, eax
                   0xB0, 0x55, 0xE6, 0x80, 0xF4]))               # mov al, 0x55; out 0x80, al; hlt
    p.vcpu.set_regs(uapi.kvm_regs(rip=_CODE, rsp=0x8000, rflags=2))
    ex = p.run()
    cr0 = p.vcpu.get_sregs().cr0
    if _wrote(ex, 0x55) and cr0 & _CR0_PG:
        return True, f"{_seen(ex)} with CR0 {cr0:#x}"
    if isinstance(ex, Shutdown) or _wrote(ex, 0x55):
        return False, f"{_seen(ex)}; CR0 {cr0:#x} (PG {'set' if cr0 & _CR0_PG else 'dropped'})"
    return None, _seen(ex)


def probe_paging32(make):
    return _probe_paging(make, pae=False)


def probe_paging_pae(make):
    return _probe_paging(make, pae=True)


def probe_pm_idt_interrupt(make):
    p = make()
    p.protected32()
    gate = struct.pack("<HHBBH", 0x1200, 0x08, 0, 0x8E, 0)      # 32-bit interrupt gate, DPL 0
    p.put(0x600 + 0x30 * 8, gate)
    s = p.vcpu.get_sregs()
    s.idt.base, s.idt.limit = 0x600, 0x30 * 8 + 7
    p.vcpu.set_sregs(s)
    p.put(_CODE, bytes([0xCD, 0x30, 0xF4]))                     # int 0x30; hlt
    p.put(0x1200, bytes([0xB0, 0x66, 0xE6, 0x80, 0xF4]))        # mov al, 0x66; out 0x80, al; hlt
    p.vcpu.set_regs(uapi.kvm_regs(rip=_CODE, rsp=0x8000, rflags=2))
    ex = p.run()
    if _wrote(ex, 0x66):
        return True, "the handler ran (" + _seen(ex) + ")"
    if isinstance(ex, (InternalError, Shutdown)):
        return False, _seen(ex)
    return None, _seen(ex)


def probe_syscall_ring0(make):
    p = make()
    p.long_mode_ring3()
    p.vcpu.set_msrs({_MSR_STAR: (0x08 << 32) | (0x13 << 48), _MSR_LSTAR: 0x1300,
                     _MSR_FMASK: 0})
    p.put(_CODE, bytes([0x0F, 0x05, 0xF4]))                     # syscall; hlt
    p.put(0x1300, bytes([0xF4]))                                # the entry point: hlt (CPL 0 only)
    p.vcpu.set_regs(uapi.kvm_regs(rip=_CODE, rsp=0x8000, rflags=2))
    ex = p.run()
    cs = p.vcpu.get_sregs().cs
    if isinstance(ex, Hlt) and cs.selector & 3 == 0:
        return True, f"HLT at the entry point with CS {cs.selector:#06x}"
    if isinstance(ex, (Shutdown, Hlt)):
        return False, f"{_seen(ex)} with CS {cs.selector:#06x} (CPL {cs.selector & 3})"
    return None, _seen(ex)


#: name -> (probe, the SDM rule, what a guest sees where it is broken, modes)
PROBES = {
    "real_mode_idt_limit": (
        probe_real_mode_idt_limit,
        "real mode: an INT beyond the IDTR limit faults (limit 0: triple fault)",
        "the IDTR limit is ignored in real mode: after LIDT with a small limit an INT "
        "runs whatever the IVT holds (in zeroed memory: an endless run of ADD [BX+SI], AL) "
        "instead of a triple fault",
        ("real",)),
    "long_mode_iopl": (
        probe_long_mode_iopl,
        "64-bit mode, ring 3: IN/OUT fault at IOPL 0; CLI and OUT run at IOPL 3",
        "RFLAGS.IOPL is not honoured in ring 3 in long mode: port I/O runs at any IOPL "
        "(no #GP at IOPL 0), and IOPL 3 does not allow CLI/STI (#GP inside the guest, "
        "no VM exit), so the guest's own #GP handler or a triple fault ends it",
        ("long64", "compat")),
    "paging32": (
        probe_paging32,
        "protected mode: 32-bit paging (CR0.PG without EFER.LME) works",
        "32-bit paging outside long mode is dropped: setting CR0.PG raises #GP inside "
        "the guest (no VM exit) and CR0.PG stays clear",
        ("prot32", "prot16")),
    "paging_pae": (
        probe_paging_pae,
        "protected mode: PAE paging without long mode works",
        "PAE paging outside long mode is dropped: setting CR0.PG raises #GP inside the "
        "guest (no VM exit)",
        ("prot32", "prot16")),
    "pm_idt_interrupt": (
        probe_pm_idt_interrupt,
        "ring-0 protected mode: INT through a 32-bit interrupt gate works",
        "ring-0 protected-mode code runs in the host kernel's instruction emulator, "
        "which cannot deliver an interrupt through a 32-bit IDT (an emulation failure)",
        ("prot32", "prot16")),
    "syscall_ring0": (
        probe_syscall_ring0,
        "64-bit mode: SYSCALL from ring 3 enters ring 0 at IA32_LSTAR",
        "SYSCALL from ring 3 leaves the vCPU in ring 3 at IA32_LSTAR, where the kernel "
        "entry's privileged instructions raise #GP",
        ("long64",)),
}


def run_probes(path=None):
    """Run every probe on fresh VMs; a list of :class:`Limit`."""
    out = []
    with Kvm(path) as system:
        for name, (fn, rule, meaning, modes) in PROBES.items():
            made = []

            def make():
                made.append(_Probe(system))
                return made[-1]
            try:
                ok, seen = fn(make)
            except KvmError as exc:
                ok, seen = None, f"the probe could not run: {exc}"
            finally:
                for p in made:
                    p.close()
            out.append(Limit(name, rule, ok, seen, meaning, modes))
    return out


def host_backend():
    """The KVM module(s) loaded, e.g. ``kvm_pvm`` (/sys/module), or ''."""
    names = ("kvm_intel", "kvm_amd", "kvm_pvm")
    return ",".join(n for n in names if os.path.isdir(f"/sys/module/{n}"))


# -- the per-boot cache --------------------------------------------------------------------------

def cache_dir():
    """``$KASOU_CACHE_DIR``, else ``$XDG_CACHE_HOME/kasou``, else ``~/.cache/kasou``."""
    if os.environ.get("KASOU_CACHE_DIR"):
        return os.environ["KASOU_CACHE_DIR"]
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "kasou")


def boot_id():
    try:
        with open(BOOT_ID) as f:
            return f.read().strip()
    except OSError:
        return ""


def _key(path):
    return {"boot_id": boot_id(), "device": device_path(path), "version": PROBE_VERSION}


@dataclass
class ProbeReport:
    limits: list
    backend: str
    cached: bool            # read from the cache (not probed now)
    cache_file: str

    def failed(self):
        return [x for x in self.limits if x.ok is False]

    def as_dict(self):
        return {"backend": self.backend, "cached": self.cached, "cache_file": self.cache_file,
                "limits": [asdict(x) for x in self.limits]}


def host_limits(path=None, refresh=False):
    """The probe results for this boot: from the cache, or probed now (and
    cached).  ``refresh``: probe again.  Raises ``KvmError`` if KVM cannot be
    opened."""
    cache = os.path.join(cache_dir(), CACHE_NAME)
    key = _key(path)
    if not refresh and key["boot_id"]:
        try:
            with open(cache) as f:
                doc = json.load(f)
            if doc.get("key") == key:
                limits = [Limit(**{**x, "modes": tuple(x["modes"])}) for x in doc["limits"]]
                return ProbeReport(limits, doc.get("backend", ""), True, cache)
        except (OSError, ValueError, KeyError, TypeError):
            pass                    # no cache, or not one of ours: probe
    limits = run_probes(path)
    report = ProbeReport(limits, host_backend(), False, cache)
    if key["boot_id"]:
        try:
            os.makedirs(os.path.dirname(cache), exist_ok=True)
            tmp = f"{cache}.{os.getpid()}.tmp"
            with open(tmp, "w") as f:
                json.dump({"key": key, "backend": report.backend,
                           "limits": [asdict(x) for x in limits]}, f, indent=1)
            os.replace(tmp, cache)
        except OSError:
            report.cache_file = ""  # a read-only home: the results are still right
    return report


def format_report(report):
    """The probe results as lines of text (``python -m kvm probe``)."""
    words = {True: "yes", False: "NO ", None: "?  "}
    lines = [f"KVM on this host ({report.backend or 'module unknown'}), against the SDM:"]
    for x in report.limits:
        lines.append(f"  {words[x.ok]} {x.rule}")
        lines.append(f"        probe guest: {x.seen}")
        if x.ok is False:
            lines.append(f"        so: {x.meaning}")
    where = report.cache_file or "not cached"
    lines.append(f"({'from the cache' if report.cached else 'probed now'}: {where}; "
                 "--refresh probes again)")
    return lines


def explain(mode=None, path=None):
    """Notes for a KVM run that ended abnormally: the probed limits of this
    host that could explain it (those that matter in ``mode``, else all), or
    [] when none was found or KVM cannot be probed."""
    try:
        report = host_limits(path)
    except KvmError:
        return []
    failed = report.failed()
    here = [x for x in failed if mode in x.modes]
    failed = here or failed
    return [f"this host's KVM ({report.backend or 'unknown module'}): {x.meaning}" for x in failed]
