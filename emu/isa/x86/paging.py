"""x86 paging: linear -> physical address translation (SDM Vol. 3A §4).

Three modes, chosen from CR0.PG, CR4.PAE and EFER.LMA (SDM Vol. 3A §4.1.1,
Table 4-1):

* **32-bit paging** (§4.3): CR3 -> page directory (1024 x 4-byte PDEs) ->
  page table (1024 x 4-byte PTEs) -> 4 KiB page; a PDE with PS=1 maps a
  4 MiB page when CR4.PSE is set (PSE-36 bits 13-20 give physical bits
  32-39, Table 4-4).
* **PAE paging** (§4.4): CR3 -> 4 PDPTEs -> page directory (512 x 8-byte
  entries; PS=1: 2 MiB page) -> page table -> 4 KiB page.
* **4-level paging** (§4.5, long mode): PML4 -> PDPT (PS=1: 1 GiB page) ->
  page directory (PS=1: 2 MiB page) -> page table.  A non-canonical linear
  address raises #GP(0) (§3.3.7.1), not #PF.

Access rights (§4.6): an access is a *user-mode* access when CPL = 3, except
for implicit supervisor accesses (descriptor tables, the IDT, the TSS), which
:mod:`emu.isa.x86.protected` makes by setting ``ops.implicit_sv``.  R/W and
U/S are combined over every level (ANDed).  Supervisor writes to read-only
pages fault only when CR0.WP = 1.  With EFER.NXE (PAE and 4-level), XD=1 at
any level forbids instruction fetches.

Accessed and dirty flags (§4.8): every paging-structure entry used to reach
a page gets A=1; the final entry gets A=1, and D=1 on a write.  A walk that
ends in a fault sets A on the non-leaf entries it used (as QEMU does; the
SDM permits it) and nothing on the leaf.

Page faults (§4.7, §6.15 "Interrupt 14"): CR2 receives the faulting linear
address; the error code has P (bit 0: 1 = protection violation, 0 = not
present), W/R (bit 1: a write), U/S (bit 2: a user-mode access) and I/D
(bit 4: an instruction fetch, only reported when NXE is on).

The TLB (§4.10) is a dict from linear page number to (physical page, the
access kinds allowed without a walk).  A write is allowed from the TLB only
when the entry's D flag is already set, so the first write walks and sets
it.  It is flushed on every CR3 write, on CR0/CR4/EFER changes that touch
paging (a new translator is built), and one page at a time by INVLPG.  Not
present translations are never cached.  Global pages (CR4.PGE) are flushed
like the others (allowed: it only makes flushes more complete).

Reserved bits (§4.4.2, §4.5.4, Tables 4-8 and 4-14 to 4-20): in PAE and
4-level paging, a present entry with a bit set in 51:MAXPHYADDR (the
model's ``max_phys_bits``, which CPUID 0x80000008 reports), XD set while
EFER.NXE = 0, PS set in a PML4E, or bits 29:13 (1 GiB page) / 20:13 (2 MiB
page) set in a large-page entry, raises #PF with P = 1 and RSVD (bit 3) in
the error code; the walk stops there.  MOV to CR3 in long mode with a bit set
in 63:MAXPHYADDR is #GP(0) (Vol. 2B "MOV -- Move to/from Control
Registers"); the PAE PDPTEs' reserved bits, which the SDM checks when CR3
is loaded (§4.4.1, #GP), are not checked.

Deliberate deviations: PCD/PWT/PAT caching attributes are ignored;
PKE/SMEP/SMAP are not modelled.
"""

from __future__ import annotations

from ..ops import GuestException
from .state import CR0_PG, CR0_WP, CR4_PAE, CR4_PSE, EFER_LMA, EFER_NXE

GAPS = ["paging: PAE PDPTE reserved bits at CR3 load, SMEP/SMAP, protection keys and PCIDs"]

P, RW, US, PWT, PCD, A, D, PS = 1, 2, 4, 8, 0x10, 0x20, 0x40, 0x80
XD = 1 << 63
ADDR64 = 0x000FFFFFFFFFF000

# #PF error-code bits (SDM Vol. 3A §4.7, Figure 4-12)
PF_P, PF_W, PF_U, PF_RSVD, PF_I = 1, 2, 4, 8, 0x10

# reserved bits of a large-page entry with PS = 1, by the shift it maps (a
# PML4E, shift 39, has PS reserved); 8-byte entries (SDM Vol. 3A Tables 4-15 to 4-17)
_LARGE_RSVD = {39: PS, 30: 0x3FFFE000, 21: 0x1FE000}


def reserved_address_bits(model) -> int:
    """Bits 51:MAXPHYADDR of a paging-structure entry (SDM Vol. 3A §4.1.4)."""
    return ((1 << 52) - 1) & ~((1 << model.max_phys_bits) - 1)


# what a TLB entry allows: bit (user << 2 | write << 1 | fetch)
_KINDS = [(u, w, f) for u in (0, 1) for w in (0, 1) for f in (0, 1)]


def paging_key(s):
    """Everything the translation depends on besides the tables themselves
    (None when paging is off)."""
    if not s.cr0 & CR0_PG:
        return None
    return (s.cr0 & CR0_WP, s.cr3, s.cr4 & (CR4_PSE | CR4_PAE), s.efer & (EFER_LMA | EFER_NXE))


def paging_mode(s) -> str:
    """'off', '32bit', 'pae' or '4level' (SDM Vol. 3A Table 4-1)."""
    if not s.cr0 & CR0_PG:
        return "off"
    if s.efer & EFER_LMA:
        return "4level"
    return "pae" if s.cr4 & CR4_PAE else "32bit"


class PageTranslator:
    """Linear -> physical for one paging configuration, with its TLB.

    Called as ``translate(lin, write, fetch)`` by :class:`ConcreteOps`;
    returns the physical address or raises #PF (vector 14, CR2 set)."""

    def __init__(self, ops):
        self.ops = ops
        s = ops.s
        self.mode = paging_mode(s)
        self.wp = bool(s.cr0 & CR0_WP)
        self.pse = bool(s.cr4 & CR4_PSE)
        self.nxe = bool(s.efer & EFER_NXE) and self.mode != "32bit"
        self.rsvd = reserved_address_bits(ops.model) | (0 if self.nxe else XD)
        self.cr3 = s.cr3
        self.tlb = {}

    # -- TLB maintenance (SDM Vol. 3A §4.10.4) -------------------------------------
    def flush(self) -> None:
        self.tlb.clear()

    def invalidate(self, lin: int) -> None:
        """INVLPG: drop the page's entry (a large page: every 4 KiB piece of it)."""
        vpn = (lin & 0xFFFFFFFFFFFFFFFF) >> 12
        e = self.tlb.pop(vpn, None)
        if e is not None and e[2] > 1:
            first = vpn & ~(e[2] - 1)
            for k in range(first, first + e[2]):
                self.tlb.pop(k, None)

    # -- translation -------------------------------------------------------------------
    def __call__(self, lin: int, write: bool = False, fetch: bool = False) -> int:
        ops = self.ops
        user = ops.s.cpl == 3 and not ops.implicit_sv
        if self.mode != "4level":
            lin &= 0xFFFFFFFF
        e = self.tlb.get(lin >> 12)
        if e is not None and (e[1] >> ((user << 2) | (write << 1) | fetch)) & 1:
            return e[0] | (lin & 0xFFF)
        return self.walk(lin, bool(write), bool(fetch), user)

    def walk(self, lin: int, write: bool, fetch: bool, user: bool, probe: bool = False) -> int:
        """The page walk (SDM Vol. 3A §4.3-4.5); fills the TLB or raises #PF.
        ``probe``: no A/D updates, no TLB fill, no CR2 (the debugger's view)."""
        ops = self.ops
        mode = self.mode
        if mode == "32bit":
            table = self.cr3 & 0xFFFFF000
            entries = [(table + ((lin >> 22) & 0x3FF) * 4, 4, 22)]   # (entry address, size, shift)
        elif mode == "pae":
            pdpte_addr = (self.cr3 & 0xFFFFFFE0) + ((lin >> 30) & 3) * 8
            pdpte = ops.read_phys(pdpte_addr, 8, True)
            if not pdpte & P:
                self._fault(lin, write, fetch, user, False, probe)
            entries = [((pdpte & ADDR64) + ((lin >> 21) & 0x1FF) * 8, 8, 21)]
        else:
            lin &= 0xFFFFFFFFFFFFFFFF
            top = lin >> 47
            if top not in (0, 0x1FFFF):
                raise GuestException(13, 0, f"non-canonical address 0x{lin:x}")
            entries = [((self.cr3 & ADDR64) + ((lin >> 39) & 0x1FF) * 8, 8, 39)]
        rw = us = 1
        nx = 0
        used = []                       # (address, value, size) of entries walked
        while True:
            addr, size, shift = entries[-1]
            ent = ops.read_phys(addr, size, True)
            if not ent & P:
                self._set_accessed(used, probe)
                self._fault(lin, write, fetch, user, False, probe)
            if size == 8 and (ent & self.rsvd or ent & PS and _LARGE_RSVD.get(shift, 0) & ent):
                self._set_accessed(used, probe)
                self._fault(lin, write, fetch, user, True, probe, rsvd=True)
            rw &= (ent >> 1) & 1
            us &= (ent >> 2) & 1
            if size == 8 and ent & XD and self.nxe:
                nx = 1
            leaf = shift == 12 or (ent & PS and (shift in (21, 30) if size == 8 else self.pse))
            if leaf:
                break
            used.append((addr, ent, size))
            if size == 4:
                entries.append(((ent & 0xFFFFF000) + ((lin >> 12) & 0x3FF) * 4, 4, 12))
            else:
                nxt = shift - 9
                entries.append(((ent & ADDR64) + ((lin >> nxt) & 0x1FF) * 8, 8, nxt))
        # access rights (SDM Vol. 3A §4.6.1)
        ok = True
        if user and not us:
            ok = False
        elif write and not rw and (user or self.wp):
            ok = False
        elif fetch and nx:
            ok = False
        self._set_accessed(used, probe)
        if not ok:
            self._fault(lin, write, fetch, user, True, probe)
        # the leaf: A, and D on a write
        new = ent | A | (D if write else 0)
        if new != ent and not probe:
            ops.write_phys(addr, size, new & 0xFFFFFFFF if size == 4 else new)
        # the physical page
        if shift == 12:
            frame = ent & (0xFFFFF000 if size == 4 else ADDR64)
            pages = 1
        elif size == 4:                 # 4 MiB page, PSE-36 (SDM Table 4-4)
            frame = (ent & 0xFFC00000) | (((ent >> 13) & 0xFF) << 32)
            frame |= lin & 0x3FF000
            pages = 1024
        else:
            frame = (ent & ADDR64 & ~((1 << shift) - 1)) | (lin & ((1 << shift) - 1) & ~0xFFF)
            pages = 1 << (shift - 12)
        # what this entry allows without another walk
        allowed = 0
        dirty = bool(new & D)
        for bit, (u, w, f) in enumerate(_KINDS):
            if w and f:
                continue
            if u and not us:
                continue
            if w and (not dirty or (not rw and (u or self.wp))):
                continue
            if f and nx:
                continue
            allowed |= 1 << bit
        if not probe:
            self.tlb[lin >> 12] = (frame, allowed, pages)
        return frame | (lin & 0xFFF)

    def _set_accessed(self, used, probe) -> None:
        if probe:
            return
        ops = self.ops
        for addr, ent, size in used:
            if not ent & A:
                ops.write_phys(addr, size, ent | A)

    def _fault(self, lin, write, fetch, user, present, probe=False, rsvd=False):
        """#PF: CR2 = the linear address, error code per SDM Vol. 3A Figure 4-12."""
        code = (PF_P if present else 0) | (PF_W if write else 0) | (PF_U if user else 0)
        code |= PF_RSVD if rsvd else 0
        if fetch and self.nxe:
            code |= PF_I
        if not probe:
            self.ops.s.cr2 = lin
        kind = "fetch" if fetch else ("write" if write else "read")
        why = ("reserved bit set" if rsvd else "protection violation" if present
               else "page not present")
        raise GuestException(14, code, f"page fault: {kind} at 0x{lin:x} ({why})")


def make_translator(ops):
    """The translation function for the state's current paging mode."""
    return PageTranslator(ops)


def translate_debug(ops, lin: int):
    """Walk without side effects (the debugger's and gdb's view): the
    physical address, or None if ``lin`` is not mapped."""
    try:
        return PageTranslator(ops).walk(lin, False, False, False, probe=True)
    except GuestException:
        return None
