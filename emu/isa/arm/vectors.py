"""Reader and judge of the ARM7TDMI single-instruction vectors (ARM state;
SingleStepTests ``ARM7TDMI`` at the commit ``/work/shared/conformance/
README.md`` names), for :mod:`emu.conformance`, read as that README's
section 3 prescribes.

The vectors were recorded from an emulator (NanoBoyAdvance), not from a
chip.  A file holds a list of tests; each gives the initial and final
register files (the user bank ``R``, the live banked copies ``R_fiq``...
and the five SPSRs), the bus transactions, the opcodes and the
instruction's address.  One test runs as one instruction of the Machine
(:meth:`Machine.run` with a budget of one) on the ``arm-none`` board,
whose whole address space is a recorded memory
(:mod:`emu.devices.recorded`), set up from the test:

* data reads are answered from the kind-1 transaction of the same size at
  the same address, or at the same address aligned to the size (the
  recording keeps the unaligned address of an ARMv4 rotated load, the
  data are the aligned word or halfword);
* the words at ``base_addr + 4k`` (k = 0..3) are ``opcodes[k]``; every
  other address reads as ``opcodes[3]`` (in this snapshot a fetch after a
  branch or an exception returned ``opcodes[3]``, README section 3);
  recorded data come first, so a load from the instruction stream reads
  what the recording says it read;
* a data read the recording does not hold fails the test (``read ...
  has no transaction``): every MMIO read the Machine serves is checked
  against the answers the memory gave;
* writes are kept and compared with the kind-2 transactions in order
  (address, size, data); addresses are compared aligned to the access
  size, as the bus of an ARMv4 core ignores A[1:0] of a word access (DDI
  0100I A2.8) while the recording keeps the unaligned address;
* R15 in the vectors is the pipeline's view: after an instruction that
  did not branch, the initial R15 + 4 (whatever the T bit became); after
  a branch, the target + 8 in ARM state (+ 4 in Thumb state).

Masks applied (README section 3 "Caveats"): for MUL/MLA with S the C flag
is not compared; for UMULL/UMLAL/SMULL/SMLAL with S neither C nor V.  The
mask is the test's ``flags-mask`` (:meth:`ArmVectorReader.opcode_entry`),
over the whole CPSR.  The suite has no ``metadata.json``.
"""

from __future__ import annotations

from ...conformance import run_verdict
from .state import C_BIT, MODE_NAMES, SPSR_MODES, T_BIT, V_BIT

BOARD = "arm-none"
RAM_SIZE = 4 << 10
BANK_KEYS = ("R_fiq", "R_svc", "R_abt", "R_irq", "R_und")
#: how the vectors' register arrays are named in a difference
BANK_REGS = {"R": [f"r{n}" for n in range(16)],
             "R_fiq": [f"r{n}_fiq" for n in range(8, 15)],
             **{f"R_{m}": [f"r13_{m}", f"r14_{m}"] for m in ("svc", "abt", "irq", "und")}}
SPSR_NAMES = tuple(f"spsr_{MODE_NAMES[m]}" for m in SPSR_MODES)
ALL_REGS = tuple(n for names in BANK_REGS.values() for n in names) + ("cpsr",) + SPSR_NAMES
#: CPSR bits by name (ARM DDI 0100I A2.5), for the differences -v shows
CPSR_BITS = ("M0", "M1", "M2", "M3", "M4", "T", "F", "I") \
    + tuple(f"bit {b}" for b in range(8, 27)) + ("Q", "V", "C", "Z", "N")
#: the CPU models the suite was recorded for
MODELS = ("arm7tdmi",)
#: how the Machine's run ends when the engine cannot execute the vector
UNSUPPORTED = ("internal-error", "fail-entry")
M32 = 0xFFFFFFFF


def cpsr_mask(word: int) -> int:
    """The CPSR bits compared after ``word`` (README section 3 "Caveats")."""
    if (word >> 25) & 7 == 0 and (word >> 4) & 0xF == 9 and (word >> 20) & 1:
        if (word >> 23) & 3 == 0:            # MUL/MLA with S
            return M32 & ~C_BIT
        if (word >> 23) & 3 == 1:            # UMULL/UMLAL/SMULL/SMLAL with S
            return M32 & ~(C_BIT | V_BIT)
    return M32


class ArmVectorReader:
    """The ARM7TDMI vectors on one ``arm-none`` Machine: load a test, run
    it, judge the result (the protocol :mod:`emu.conformance` states)."""

    board = BOARD
    ram_size = RAM_SIZE
    needs_metadata = False
    reg_names = ALL_REGS
    flag_bits = CPSR_BITS

    def __init__(self, cpu: str):
        if cpu not in MODELS:
            raise ValueError(f"-cpu {cpu}: no ARM test vectors were recorded for it "
                             f"(expected {', '.join(MODELS)})")
        self.cpu = cpu
        self.machine = None
        self._decoder = None
        self._unrecorded = []       # data reads the recording does not hold

    def attach(self, machine) -> None:
        """Work on ``machine`` (an ``arm-none`` Machine) from now on."""
        self.machine = machine
        self.accel = machine.accel
        self.memory = machine.devices["memory"]
        machine.add_exit_observer(self._check_read)

    def _check_read(self, ex) -> None:
        """An MMIO read the Machine served: was it answered from the recording?"""
        if ex.reason == "MMIO" and not ex.is_write:
            answers = self.memory.answers
            if not answers or answers[-1][2] != "recorded":
                self._unrecorded.append((ex.addr, ex.size))

    def opcode_entry(self, meta: dict, vec: dict) -> dict:
        """How a test is judged: the CPSR bits compared (``flags-mask``)."""
        return {"status": "normal", "flags-mask": cpsr_mask(vec["opcodes"][0])}

    def describe(self, vec: dict) -> str:
        """The instruction under test, as UAL."""
        from .disasm import format_insn
        if self._decoder is None:
            from .models import get_model
            from .semantics import REGISTRY
            from .thumb import ArmDecoder
            self._decoder = ArmDecoder(get_model(self.cpu), REGISTRY)
        word = vec["opcodes"][0]
        return f"{word:08x} {format_insn(self._decoder.decode_word(word, vec['base_addr']))}"

    # -- one vector ------------------------------------------------------------------
    def load(self, vec: dict) -> None:
        regs = vec["initial"]
        base = vec["base_addr"]
        s = self.machine.cpu
        s.load(self.machine.target.new_state())
        s.cpsr = regs["CPSR"]
        s.load_banks({"R": list(regs["R"][:15]) + [base],
                      **{k: list(regs[k]) for k in BANK_KEYS}})
        for m, v in zip(SPSR_MODES, regs["SPSR"]):
            s.spsr[m] = v
        ops = vec["opcodes"]
        self.memory.replay([(t["addr"], t["size"], t["data"])
                            for t in vec["transactions"] if t["kind"] == 1],
                           {(base + 4 * k) & M32: ops[k] for k in range(4)}, ops[3])
        self._unrecorded = []
        self.accel.flush_code_cache()
        self.accel.state_changed()

    def execute(self, vec: dict) -> str | None:
        """Run the one instruction; None when it ran, else why the engine
        could not (``unsupported: ...``) or how the run failed."""
        r = self.machine.run(icount_limit=1)
        if r.reason == "limit":
            return None
        return run_verdict(r, UNSUPPORTED)

    def compare(self, vec: dict, mask: int) -> list[str]:
        """What differs from the expected final state (empty: passed), each
        as ``NAME GOT != EXPECTED`` (the CPSR with ``(mask M)``), then the
        data reads the recording does not hold and the writes."""
        self.accel.sync_state()
        s = self.machine.cpu
        ini, fin = vec["initial"], vec["final"]
        base = vec["base_addr"]
        got = s.snapshot_banks()
        if s.pc == (base + 4) & M32:
            got["R"][15] = (ini["R"][15] + 4) & M32     # no branch: the pipeline moved on a word
        else:
            got["R"][15] = (s.pc + (4 if s.cpsr & T_BIT else 8)) & M32
        diffs = []
        for key, names in BANK_REGS.items():
            for name, have, want in zip(names, got[key], fin[key]):
                if have != want:
                    diffs.append(f"{name} {have:08x} != {want:08x}")
        if (s.cpsr ^ fin["CPSR"]) & mask:
            diffs.append(f"cpsr {s.cpsr:08x} != {fin['CPSR']:08x} (mask {mask:08x})")
        for name, m, want in zip(SPSR_NAMES, SPSR_MODES, fin["SPSR"]):
            if s.spsr[m] != want:
                diffs.append(f"{name} {s.spsr[m]:08x} != {want:08x}")
        for addr, size in self._unrecorded:
            diffs.append(f"read of {size} bytes at 0x{addr:08x} has no transaction in the "
                         f"recording")
        want = [(t["addr"] & -t["size"], t["size"], t["data"])
                for t in vec["transactions"] if t["kind"] == 2]
        have = [(a & -z, z, d) for a, z, d in self.memory.writes]
        if have != want:
            diffs.append(f"writes: got {_writes(have)}, expected {_writes(want)}")
        return diffs

    def clean(self, vec: dict) -> None:
        """Nothing to clear: the vector's memory is the recording, replaced
        by the next one; the CPU state is loaded whole."""

    # -- engine against engine ------------------------------------------------------------
    def state(self) -> dict:
        """Every register of every bank, the CPSR and SPSRs (32 bits, no
        mask), and what was written: the number of writes and each one's
        address, size and value."""
        self.accel.sync_state()
        s = self.machine.cpu
        banks = s.snapshot_banks()
        st = {name: v for key, names in BANK_REGS.items() for name, v in zip(names, banks[key])}
        st["cpsr"] = s.cpsr
        st.update({name: s.spsr[m] for name, m in zip(SPSR_NAMES, SPSR_MODES)})
        st["writes"] = len(self.memory.writes)
        for k, (a, z, d) in enumerate(self.memory.writes):
            st[f"write{k}.addr"], st[f"write{k}.size"], st[f"write{k}.data"] = a, z, d
        return st

    def touched(self, vec: dict, readers) -> set:
        """RAM addresses to compare: none (the CPU cannot reach the RAM; what
        it wrote is in :meth:`state`)."""
        return set()


def _writes(ws) -> str:
    return "[" + ", ".join(f"{z} bytes 0x{d:0{2 * z}x} at 0x{a:08x}" for a, z, d in ws) + "]" \
        if ws else "none"
