"""The A32 programmer's model: registers, banks, CPSR and SPSRs.

Modelled from the ARM Architecture Reference Manual ARMv7-A/R (ARM DDI
0406C), B1.3 "ARM processor modes and ARM core registers":

* sixteen visible registers r0-r15; r15 is the PC and is kept here as the
  address of the instruction being executed (reads as an operand see +8,
  which the Ops add, A2.3);
* banked copies: r8-r14 for FIQ mode, r13-r14 for SVC, ABT, IRQ and UND
  (B1.3.2, Figure B1-2); user and system mode share the user bank;
* the CPSR (N Z C V Q, the GE bits, E, A I F, T, M[4:0]; B1.3.3) and one
  SPSR per exception mode.

Changing mode through :meth:`ArmState.set_cpsr` swaps the banked registers
in and out, so ``r`` always holds the registers the current mode sees.  An
encoding of M[4:0] that names no mode of the model is kept as it is but
banks like user mode (ARM DDI 0100I A2.5.7 leaves it UNPREDICTABLE).
"""

from __future__ import annotations

USR, FIQ, IRQ, SVC, ABT, UND, SYS = 0x10, 0x11, 0x12, 0x13, 0x17, 0x1B, 0x1F
MODE_NAMES = {USR: "usr", FIQ: "fiq", IRQ: "irq", SVC: "svc", ABT: "abt", UND: "und", SYS: "sys"}
#: the modes that have an SPSR, in the order the ARM7TDMI vectors list them
SPSR_MODES = (FIQ, SVC, ABT, IRQ, UND)

N_BIT, Z_BIT, C_BIT, V_BIT, Q_BIT = 1 << 31, 1 << 30, 1 << 29, 1 << 28, 1 << 27
J_BIT, E_BIT, A_BIT, I_BIT, F_BIT, T_BIT = 1 << 24, 1 << 9, 1 << 8, 1 << 7, 1 << 6, 1 << 5
MODE_MASK = 0x1F

REG_NAMES = ("r0", "r1", "r2", "r3", "r4", "r5", "r6", "r7", "r8", "r9", "r10", "r11",
             "r12", "sp", "lr", "pc")


def bank_of(mode: int) -> int:
    """The register bank ``mode`` uses for r13-r14 (USR for user/system and
    for encodings that are no mode)."""
    return mode if mode in SPSR_MODES else USR


class ArmState:
    """One A32 CPU: visible registers, banked storage, CPSR, SPSRs, and the
    few system registers a bare-metal program touches (CP15 SCTLR, VBAR)."""

    #: the generic interpreter's status word (emu.isa.core): A32 has no
    #: trace trap, so nothing in it asks for attention
    status = 0

    __slots__ = ("r", "cpsr", "spsr", "usr_hi", "fiq_hi", "banked", "sctlr", "vbar",
                 "excl_addr", "halted")

    def __init__(self):
        self.r = [0] * 16
        self.cpsr = I_BIT | F_BIT | SVC          # reset: SVC mode, IRQ and FIQ masked (B1.9.10)
        self.spsr = {m: 0 for m in SPSR_MODES}
        # storage for the registers not currently visible
        self.usr_hi = [0] * 7                    # r8-r14 of user/system (r8-r12: all but FIQ)
        self.fiq_hi = [0] * 7                    # r8_fiq-r14_fiq
        self.banked = {m: [0, 0] for m in (SVC, ABT, IRQ, UND)}   # r13_x, r14_x
        self.sctlr = 0x00C50078                  # B4.1.130 reset value (cortex-a15: V=0, M=0)
        self.vbar = 0
        self.excl_addr = None                    # local exclusive monitor (A3.4.1): tagged address
        self.halted = False

    def copy(self) -> "ArmState":
        """An independent copy (the debugger's checkpoints, the lockstep
        tools' state before a step)."""
        s = ArmState()
        s.load(self)
        return s

    def load(self, other: "ArmState") -> None:
        """Make this state an exact copy of ``other`` (keeping object identity:
        the engines hold ``r``)."""
        self.r[:] = other.r
        self.usr_hi[:] = other.usr_hi
        self.fiq_hi[:] = other.fiq_hi
        self.spsr = dict(other.spsr)
        self.banked = {m: list(v) for m, v in other.banked.items()}
        for name in ("cpsr", "sctlr", "vbar", "excl_addr", "halted"):
            setattr(self, name, getattr(other, name))

    # -- PC and mode -----------------------------------------------------------------
    @property
    def pc(self) -> int:
        return self.r[15]

    @pc.setter
    def pc(self, v: int) -> None:
        self.r[15] = v & 0xFFFFFFFF

    @property
    def mode(self) -> int:
        return self.cpsr & MODE_MASK

    @property
    def thumb(self) -> bool:
        return bool(self.cpsr & T_BIT)

    def set_cpsr(self, value: int) -> None:
        """Write the whole CPSR, switching banks when M[4:0] changes."""
        value &= 0xFFFFFFFF
        old = self.cpsr & MODE_MASK
        new = value & MODE_MASK
        if old != new:
            self._save_bank(old)
            self._load_bank(new)
        self.cpsr = value

    def _save_bank(self, mode: int) -> None:
        r = self.r
        if mode == FIQ:
            self.fiq_hi[:] = r[8:15]
        else:
            b = bank_of(mode)
            self.usr_hi[:5] = r[8:13]
            if b == USR:
                self.usr_hi[5:] = r[13:15]
            else:
                self.banked[b][:] = r[13:15]

    def _load_bank(self, mode: int) -> None:
        r = self.r
        if mode == FIQ:
            r[8:15] = self.fiq_hi
        else:
            b = bank_of(mode)
            r[8:13] = self.usr_hi[:5]
            r[13:15] = self.usr_hi[5:] if b == USR else self.banked[b]

    # -- banked access (LDM/STM ^, MSR banked views, the vector reader) --------------
    def user_reg(self, n: int) -> int:
        """Register ``n`` of the user bank, whatever the current mode."""
        mode = self.mode
        if n < 8 or n == 15 or (mode != FIQ and (n < 13 or bank_of(mode) == USR)):
            return self.r[n]
        return self.usr_hi[n - 8]

    def set_user_reg(self, n: int, v: int) -> None:
        mode = self.mode
        v &= 0xFFFFFFFF
        if n < 8 or n == 15 or (mode != FIQ and (n < 13 or bank_of(mode) == USR)):
            self.r[n] = v
        else:
            self.usr_hi[n - 8] = v

    def has_spsr(self) -> bool:
        return self.mode in self.spsr

    def get_spsr(self) -> int:
        return self.spsr.get(self.mode, 0)

    def set_spsr(self, v: int) -> None:
        if self.mode in self.spsr:
            self.spsr[self.mode] = v & 0xFFFFFFFF

    def snapshot_banks(self) -> dict:
        """Every register of every bank, current mode's live values included:
        ``{"R": [16], "R_fiq": [7], "R_svc": [2], ...}`` (the vectors' shape)."""
        self._save_bank(self.mode)
        out = {"R": self.r[:8] + self.usr_hi + [self.r[15]], "R_fiq": list(self.fiq_hi)}
        for m in (SVC, ABT, IRQ, UND):
            out["R_" + MODE_NAMES[m]] = list(self.banked[m])
        return out

    def load_banks(self, banks: dict) -> None:
        """The inverse of :meth:`snapshot_banks` for the current mode."""
        regs = banks["R"]
        self.usr_hi[:] = regs[8:15]
        self.fiq_hi[:] = banks["R_fiq"]
        for m in (SVC, ABT, IRQ, UND):
            self.banked[m][:] = banks["R_" + MODE_NAMES[m]]
        self.r[:] = regs
        self._load_bank(self.mode)
