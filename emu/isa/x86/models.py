"""CPU models: ``-cpu 8086``, ``-cpu 286`` and ``-cpu max``.

Behavioural differences between the chips are data here, read by the
semantics; decoding differences (aliases, POP CS, SALC) are rows in
``table.MODEL_ROWS``.  Sources: Intel 8086 Family User's Manual (1979),
iAPX 286 Programmer's Reference (1983) §B "differences from the 8086", and
SDM Vol. 3A §22 "Architecture compatibility".

``max`` is a modern x86 in real mode -- what KVM runs.  Where the SDM
defines a result, ``max`` follows the SDM (also where KVM's instruction
emulator on this host does otherwise: those vectors are listed as host
deviations in ``tests/conformance/known_kvm_disagreements.json``).  Where
the SDM leaves a result undefined, or where a modern chip differs from the
286, ``max`` does what KVM on this host does: ``emu conformance DIR --cpu max
--compare interp,kvm`` measured every 286 real-mode vector on both engines,
and ``docs/kvm-vs-286.md`` lists each difference with counts and an example.
What KVM showed, field by field (``max`` values), and the SDM's word on it:

* ``lock_ud``: ``lock add bh,[bp+si-6Fh]`` (02.json #89, register
  destination) raises #UD; only ADD ADC AND BTC BTR BTS CMPXCHG DEC INC NEG
  NOT OR SBB SUB XADD XCHG with a memory destination take LOCK.  The 286
  ignores LOCK on anything.
* ``mul_keeps_szap``: after MUL/IMUL (all forms) SF, ZF, AF and PF keep
  their old values (every non-faulting vector of F6.4, F6.5, F7.4, F7.5,
  69 and 6B).
* ``div_flags = (SF|ZF|AF|PF, AF)``: a DIV/IDIV that does not fault leaves
  SF = ZF = PF = 0 and AF = 1; CF and OF keep their old values (every
  non-faulting vector of F6.6, F6.7, F7.6 and F7.7).  A faulting one
  changes no flag.
* ``shift_af``: SHL/SAL/SHR/SAR with a nonzero masked count set AF (every
  vector of C0-D3 /4-/7).  Rotates leave AF alone.
* ``aad_logic_flags``: AAD leaves CF = OF = AF = 0 (undefined in the SDM;
  KVM and QEMU clear them).  SF, ZF and PF come from AL, as the SDM says
  (Vol. 2A "AAD", "AAM"), on every model; KVM's emulator takes SF and ZF
  from all of AX (a 16-bit OR), a host deviation that ``max`` does not copy
  (tests/guests/x86/bcd_sums.S against qemu-system-i386 is the judge).
* ``das_clears_of``: DAS leaves OF = 0 (2F.json: every vector; OF is
  undefined in the SDM).
* ``ip_wraps = False``: a HLT at offset 0xFFFF leaves IP = 0x10000 (EIP
  carries into bit 16; C3.json #5 ``ret`` to FFFF); branches still wrap
  (the SDM masks EIP to 16 bits only in the branch instructions' operation).
* ``flags_writable = 0x257FD5``: the SDM's IRET mask in real mode (Vol. 2A
  "IRET": tempEFLAGS AND 257FD5H; VM, VIF and VIP keep their values).  POPF
  also leaves RF alone and POPFD clears it (Vol. 2A "POPF").

The fields the SDM defines outright (``flags_set``, ``shift_mask``,
``push_sp_new``, ``fault_pushes_next_ip``, ``has_ud``, ``seg_wrap``,
``max_insn_len`` 15, ``string_fault_late``, ``seg_reg_count``, ``lock_ud``)
take the SDM's values; ``mul_keeps_szap``, ``div_flags`` and ``shift_af``
choose flags the SDM calls undefined.  ``max_phys_bits`` = 48 is the
MAXPHYADDR that CPUID leaf 0x80000008 reports and the page walk checks
(bits 51:48 of an entry are reserved); it is what KVM reports on this host
(an AMD EPYC, 48 physical address bits).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CpuModel:
    name: str
    level: int                 # 86, 286, 686
    flags_set: int             # FLAGS bits that always read 1 (real mode)
    flags_writable: int        # FLAGS bits POPF/IRET/SAHF may change in real mode
    shift_mask: int            # shift/rotate count mask (0xFF: none)
    push_sp_new: bool          # PUSH SP pushes the decremented value (8086)
    fault_pushes_next_ip: bool # #DE pushes the next IP (8086) instead of the faulting one
    addr_mask: int             # physical address lines (A20 wrap on the 8086)
    has_ud: bool               # undefined opcodes raise #UD (186+)
    seg_wrap: bool             # a word at offset 0xFFFF wraps within the segment (8086); else #GP
    max_insn_len: int
    # multiply/divide quirks (semantics/muldiv.py)
    idiv_rejects_min: bool = False   # IDIV #DE on the most negative quotient (8086)
    rep_negates_imul_idiv: bool = False   # a REP prefix negates the IMUL/IDIV result (8086)
    # real-mode segment and fault quirks (concrete.py, decode.py, semantics/string.py)
    real_limit_gp: bool = False      # a real-mode limit violation is #GP even on SS (286)
    string_fault_late: bool = False  # a string op's pointers advance before its fault (286)
    seg_reg_count: int = 6           # segment registers ModR/M reg can name (4 before the 386)
    # What a modern x86 does where the 286 capture and KVM on this host disagree
    # (docs/kvm-vs-286.md; measured with `emu conformance --compare interp,kvm`).
    # The flags the SDM calls undefined are, on KVM, those of the host CPU:
    # the host's instruction emulator runs the real instruction ("fastop"),
    # and this host is an AMD EPYC.  The 8086/286 values below are the chips'
    # (their vectors mask those flags, so the old choices stay).
    lock_ud: bool = False            # LOCK without a lockable memory destination is #UD
    mul_keeps_szap: bool = False     # MUL/IMUL leave SF ZF AF PF as they were
    div_flags: tuple = ()            # DIV/IDIV: (mask, value) of the flags they set; () none
    shift_af: bool = False           # SHL/SHR/SAR with a nonzero count set AF
    aad_logic_flags: bool = False    # AAD leaves CF = OF = AF = 0 (else: those of the 8-bit add)
    das_clears_of: bool = False      # DAS clears OF
    ip_wraps: bool = True            # a 16-bit IP wraps at 64 KiB after the last byte
    max_phys_bits: int = 0           # MAXPHYADDR (CPUID 0x80000008 EAX[7:0]); 0: no paging


MODELS = {
    "8086": CpuModel("8086", 86, flags_set=0xF002, flags_writable=0x0FD5, shift_mask=0xFF,
                     push_sp_new=True, fault_pushes_next_ip=True, addr_mask=0xFFFFF,
                     has_ud=False, seg_wrap=True, max_insn_len=64,
                     idiv_rejects_min=True, rep_negates_imul_idiv=True, seg_reg_count=4),
    "286": CpuModel("286", 286, flags_set=0x0002, flags_writable=0x0FD5, shift_mask=0x1F,
                    push_sp_new=False, fault_pushes_next_ip=False, addr_mask=0xFFFFFF,
                    has_ud=True, seg_wrap=False, max_insn_len=10,
                    real_limit_gp=True, string_fault_late=True, seg_reg_count=4),
    "max": CpuModel("max", 686, flags_set=0x0002, flags_writable=0x257FD5, shift_mask=0x1F,
                    push_sp_new=False, fault_pushes_next_ip=False, addr_mask=0xFFFFFFFFFFFFF,
                    has_ud=True, seg_wrap=False, max_insn_len=15,
                    lock_ud=True, mul_keeps_szap=True, div_flags=(0xD4, 0x10), shift_af=True,
                    aad_logic_flags=True, das_clears_of=True, ip_wraps=False,
                    max_phys_bits=48),
}


def get_model(name: str) -> CpuModel:
    try:
        return MODELS[name]
    except KeyError:
        raise ValueError(f"unknown -cpu '{name}'; expected one of: {', '.join(MODELS)}") from None
