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
