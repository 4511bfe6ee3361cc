"""A bare A32 CPU for unit tests: 64 KiB of memory at 0, code assembled by
keystone (GNU syntax) at 0x1000, stepped with emu.isa.arm.step."""

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
#: the conditions random A32 words take: always, and the common ones
CONDS = (0xE, 0x0, 0x1, 0xA, 0xB, 0xC, 0xD)


def a32_comparable(i) -> bool:
    """An A32 instruction whose outcome is defined the same way everywhere:
    no trap, no r15 as an operand or destination (UNPREDICTABLE in most
    forms), no LDM/STM with the base in the list, an empty list or ``^``,
    no LDRD/STRD with an odd register."""
    if i.name in TRAPS or any(getattr(i, f) == 15 for f in FIELDS):
        return False
    if i.name in ("LDM", "STM") and (i.user or i.regs >> i.rn & 1 or i.regs == 0):
        return False
    return not (i.name[:4] in ("LDRD", "STRD") and (i.rt & 1 or i.rt == 14))


def random_a32(rnd, dec, keep, at: int = CODE):
    """A random A32 word with one of ``CONDS`` that ``keep(insn)`` accepts,
    and its decoding (at address ``at``)."""
    while True:
        word = rnd.getrandbits(28) | rnd.choice(CONDS) << 28
        i = dec.decode_word(word, at)
        if keep(i):
            return word, i


def random_regs(rnd, near: int, n: int = 15) -> list:
    """Register values: random words, a few near ``near`` (addresses into a
    data area), and the edge cases of the shifter and the adder."""
    return [rnd.choice([rnd.getrandbits(32), near + 0x80 + rnd.randrange(0x80), 0, 1, 31, 32,
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
