"""A bare A32 CPU for unit tests: 64 KiB of memory at 0, code assembled by
keystone (GNU syntax) at 0x1000, stepped with emu.isa.arm.step; and the
random A32 instructions the tests against unicorn draw (single words, and
sequences of them for the lockstep of whole engines).

Left out of the random instructions: what either side defines differently
by design -- r15 as an operand or destination (UNPREDICTABLE in most
forms), LDM/STM with the base in the list, empty lists or ``^``, LDRD/STRD
with an odd register -- instructions that trap (exceptions, hints,
coprocessors) and, in sequences, branches (they would leave the
sequence)."""

from keystone import KS_ARCH_ARM, KS_MODE_ARM, Ks

from emu.isa import get_target
from emu.isa.arm.models import get_model
from emu.isa.arm.ops import ArmOps
from emu.isa.arm.step import step
from emu.isa.ops import GuestException

CODE = 0x1000
SIZE = 0x10000
#: encodings that trap or wait (unicorn stops on them instead of taking the vector)
TRAPS = {"UNDEFINED", "SVC", "BKPT", "UDF", "WFI", "WFE", "YIELD", "SEV", "NOP", "CDP", "LDC",
         "STC", "MCR", "MRC", "MCRR", "MRRC", "CPS", "MRS_banked", "MSR_banked", "T_IT",
         "T_BLX_lo"}
#: the register fields of an A32 encoding
FIELDS = ("rd", "rn", "rm", "rs", "rt", "ra", "rdhi", "rdlo")
#: the conditions random A32 words take: AL most often, and some that pass or fail on the flags
CONDS = (0xE, 0x0, 0x1, 0xA, 0xB, 0xC, 0xD)
#: branches: a sequence runs straight through
BRANCHES = ("B", "BL", "BX", "BLX_imm", "BLX_reg", "BXJ")


def a32_comparable(i):
    """Is the decoded A32 instruction ``i`` one both sides define alike?"""
    if i.name in TRAPS or any(getattr(i, f) == 15 for f in FIELDS):
        return False
    if i.name in ("LDM", "STM") and (i.user or i.regs >> i.rn & 1 or i.regs == 0):
        return False
    pair = i.name[:4] in ("LDRD", "STRD")
    if pair and (i.rt & 1 or i.rt == 14):
        return False
    # a load or store writing back into its own transfer register (A8.8.62...)
    single = i.name[:3] in ("LDR", "STR") and "EX" not in i.name
    wback = single and (not getattr(i, "p", 1) or getattr(i, "w", 0))
    return not (wback and i.rn in ((i.rt, i.rt + 1) if pair else (i.rt,)))


def in_sequence(i):
    """May ``i`` stand in a straight-line sequence: comparable, no branch,
    and no write of the PC or of the mode bits (an MSR to the CPSR keeps
    the mode: a mode without a stack would only test the setup)?"""
    if not a32_comparable(i) or i.name in BRANCHES:
        return False
    if i.name in ("LDM", "STM") and i.regs >> 15 & 1:
        return False
    return not (i.name in ("MSR_reg", "MSR_imm") and not i.spsr and i.mask & 1)


#: in sequences, loads and stores address a scratch area through r11 (which
#: only their own writeback changes), with r10 (a small value) as the
#: register offset, unshifted: every access stays in RAM
BASE, OFFSET = 11, 10
_SHIFTED = ("LDR_reg", "STR_reg", "LDRB_reg", "STRB_reg")
_MEMORY = ("LDR", "STR", "LDM", "STM", "SWP")


def _written(i) -> set:
    """The registers ``i`` writes other than by base writeback."""
    out = {getattr(i, f) for f in ("rd", "rt", "rdhi", "rdlo")} - {None}
    if i.name[:4] == "LDRD" and i.rt is not None:
        out.add(i.rt + 1)
    if i.name == "LDM":
        out |= {k for k in range(16) if i.regs >> k & 1}
    return out


def in_scratch(word: int, decoder):
    """``word`` made to stand in a sequence: a load or store based on r11
    (register offset r10, unshifted); None if it may not stand there."""
    i = decoder.decode_word(word, 0)
    if i.name.startswith(_MEMORY) and i.rn is not None:
        word = word & ~(0xF << 16) | BASE << 16
        if i.name.endswith("_reg"):
            word = word & ~0xF | OFFSET
            if i.name in _SHIFTED:
                word &= ~(0x7F << 5)
        i = decoder.decode_word(word, 0)
    if not in_sequence(i) or _written(i) & {BASE, OFFSET}:
        return None
    return word


def random_a32_word(rnd) -> int:
    """A random A32 word: any encoding, under a condition of ``CONDS``."""
    return rnd.getrandbits(28) | rnd.choice(CONDS) << 28


def random_a32(rnd, dec, keep, at: int = CODE):
    """A random A32 word that ``keep(insn)`` accepts, and its decoding (at
    address ``at``)."""
    while True:
        word = random_a32_word(rnd)
        i = dec.decode_word(word, at)
        if keep(i):
            return word, i


def random_regs(rnd, mem: int, n: int = 15) -> list:
    """``n`` register values: random words, pointers into the 0x80 bytes
    at ``mem``, and the edge values of shifts and overflow."""
    return [rnd.choice([rnd.getrandbits(32), mem + rnd.randrange(0x80), 0, 1, 31, 32,
                        0x80000000]) for _ in range(n)]


class Cpu:
    def __init__(self, model="cortex-a15", abort_at=None, size=SIZE, mem=None):
        self.target = get_target("arm")
        self.model = get_model(model)
        self.s = self.target.new_state()
        self.mem = bytearray(size) if mem is None else mem
        self.abort_at = abort_at
        self.ops = ArmOps(self.s, self.model, self.read, self.write)
        self.dec = self.target.decoder(self.model, self.target.tb_flags(self.s))

    def read(self, addr, size):
        if addr == self.abort_at or addr + size > len(self.mem):
            raise GuestException(4, None, f"data abort at {addr:#x}")
        return int.from_bytes(self.mem[addr:addr + size], "little")

    def write(self, addr, size, v):
        if addr == self.abort_at or addr + size > len(self.mem):
            raise GuestException(4, None, f"data abort at {addr:#x}")
        self.mem[addr:addr + size] = v.to_bytes(size, "little")

    def load(self, asm, at=CODE):
        code, _ = Ks(KS_ARCH_ARM, KS_MODE_ARM).asm(asm, at)
        self.mem[at:at + len(code)] = bytes(code)
        self.s.pc = at
        return len(code) // 4

    def words(self, words, at=CODE):
        for k, w in enumerate(words):
            self.mem[at + 4 * k:at + 4 * k + 4] = w.to_bytes(4, "little")
        self.s.pc = at

    def run(self, n):
        for _ in range(n):
            step(self.s, self.ops, self.dec)
        return self.s

    def asm_run(self, asm, **regs):
        n = self.load(asm)
        for k, v in regs.items():
            self.s.r[int(k[1:])] = v
        return self.run(n)


#: where run_on_virt loads a program (the virt board's RAM, 64 KiB in)
VIRT_CODE = 0x40010000


def load_address(reg: str, addr: int) -> str:
    """Assembly putting the 32-bit ``addr`` in ``reg`` (MOVW, MOVT)."""
    return f"\n    movw {reg}, #{addr & 0xFFFF:#x}\n    movt {reg}, #{addr >> 16:#x}"


def pl011_base(reg: str) -> str:
    """Assembly putting the virt board's PL011 (at 0x09000000; its
    registers: PL011 TRM 3.2) in ``reg``: the start of a device guest."""
    return load_address(reg, 0x09000000)


def run_on_virt(asm: str, accel: str, limit: int):
    """``asm`` assembled at VIRT_CODE and run on the virt board with
    ``accel`` for at most ``limit`` instructions: (r0-r14, the instructions
    run, the engine's statistics -- tcg's, else None)."""
    from emu.machine import Machine
    code = bytes(Ks(KS_ARCH_ARM, KS_MODE_ARM).asm(asm, VIRT_CODE)[0])
    m = Machine(board="virt", accel=accel)
    try:
        m.load_image(code, "t", VIRT_CODE, VIRT_CODE)
        m.accel.state_changed()
        r = m.run(icount_limit=limit)
        return list(m.cpu.r)[:15], r.icount, (m.accel.stats() if accel == "tcg" else None)
    finally:
        m.close()
