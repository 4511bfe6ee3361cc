"""CPU models: ``-cpu 8086``, ``-cpu 286`` and ``-cpu max``.

Behavioural differences between the chips are data here, read by the
semantics; decoding differences (aliases, POP CS, SALC) are rows in
``table.MODEL_ROWS``.  Sources: Intel 8086 Family User's Manual (1979),
iAPX 286 Programmer's Reference (1983) §B "differences from the 8086", and
SDM Vol. 3A §22 "Architecture compatibility".

``max`` is a modern x86 in real mode -- what KVM runs; its undefined-flag
choices follow what KVM on this host produces (see ``docs``/conformance notes).
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


MODELS = {
    "8086": CpuModel("8086", 86, flags_set=0xF002, flags_writable=0x0FD5, shift_mask=0xFF,
                     push_sp_new=True, fault_pushes_next_ip=True, addr_mask=0xFFFFF,
                     has_ud=False, seg_wrap=True, max_insn_len=64,
                     idiv_rejects_min=True, rep_negates_imul_idiv=True, seg_reg_count=4),
    "286": CpuModel("286", 286, flags_set=0x0002, flags_writable=0x0FD5, shift_mask=0x1F,
                    push_sp_new=False, fault_pushes_next_ip=False, addr_mask=0xFFFFFF,
                    has_ud=True, seg_wrap=False, max_insn_len=10,
                    real_limit_gp=True, string_fault_late=True, seg_reg_count=4),
    "max": CpuModel("max", 686, flags_set=0x0002, flags_writable=0x277FD5, shift_mask=0x1F,
                    push_sp_new=False, fault_pushes_next_ip=False, addr_mask=0xFFFFFFFFFFFFF,
                    has_ud=True, seg_wrap=False, max_insn_len=15),
}


def get_model(name: str) -> CpuModel:
    try:
        return MODELS[name]
    except KeyError:
        raise ValueError(f"unknown -cpu '{name}'; expected one of: {', '.join(MODELS)}") from None
