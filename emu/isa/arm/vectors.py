"""The ARM7TDMI single-instruction conformance suite (ARM state), read as
``/work/shared/conformance/README.md`` section 3 prescribes.

A file holds a list of tests; each gives the initial and final register
files (the user bank ``R``, the live banked copies ``R_fiq``... and the five
SPSRs), the bus transactions, the opcodes and the instruction's address.
One test is run as one :func:`emu.isa.arm.step.step` from the initial
state over a transaction-oracle memory:

* data reads are served from the kind-1 transaction of the same size at the
  same address, or at the same address aligned to the size (the recording
  keeps the unaligned address of an ARMv4 rotated load, the data are the
  aligned word or halfword); code fetches at
  ``base_addr + 4k`` return ``opcodes[k]``;
* writes are recorded and compared with the kind-2 transactions in order
  (address, size, data); addresses are compared aligned to the access size,
  as the bus of an ARMv4 core ignores A[1:0] of a word access (DDI 0100I
  A2.8) while the recording keeps the unaligned address;
* R15 in the vectors is the pipeline's view: after an instruction that did
  not branch, the initial R15 + 4 (whatever the T bit became); after a
  branch, the target + 8 in ARM state (+ 4 in Thumb state).

Masks applied (README section 3 "Caveats"): for MUL/MLA with S the C flag
is not compared; for UMULL/UMLAL/SMULL/SMLAL with S neither C nor V.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass, field

from .models import get_model
from .ops import ArmOps
from .state import C_BIT, MODE_NAMES, SPSR_MODES, T_BIT, V_BIT, ArmState
from .semantics import REGISTRY
from .step import step
from .thumb import ArmDecoder

BANK_KEYS = ("R_fiq", "R_svc", "R_abt", "R_irq", "R_und")


class OracleMiss(Exception):
    """The instruction read memory the test recorded no transaction for."""


@dataclass
class Oracle:
    test: dict
    writes: list = field(default_factory=list)

    def read(self, addr: int, size: int) -> int:
        t = self.test
        base = t["base_addr"]
        if size == 4 and addr in (base, base + 4, base + 8, base + 12) and not self.writes:
            return t["opcodes"][(addr - base) // 4]
        for tr in t["transactions"]:
            if tr["kind"] == 1 and tr["addr"] == addr and tr["size"] == size:
                return tr["data"]
        for tr in t["transactions"]:
            if tr["kind"] == 1 and tr["addr"] & -size == addr & -size and tr["size"] == size:
                return tr["data"]
        raise OracleMiss(f"read of {size} bytes at {addr:#010x} has no transaction")

    def write(self, addr: int, size: int, v: int) -> None:
        self.writes.append((addr, size, v))


def load(path: str) -> list:
    with gzip.open(path, "rt") as f:
        return json.load(f)


def state_from(regs: dict) -> ArmState:
    s = ArmState()
    s.cpsr = regs["CPSR"]
    s.load_banks({"R": list(regs["R"][:15]) + [0], **{k: list(regs[k]) for k in BANK_KEYS}})
    for m, v in zip(SPSR_MODES, regs["SPSR"]):
        s.spsr[m] = v
    return s


def _mask_for(word: int) -> int:
    """CPSR bits not compared for ``word`` (README section 3)."""
    if (word >> 25) & 7 == 0 and (word >> 4) & 0xF == 9 and (word >> 20) & 1:
        if (word >> 23) & 3 == 0:            # MUL/MLA with S
            return C_BIT
        if (word >> 23) & 3 == 1:            # UMULL/UMLAL/SMULL/SMLAL with S
            return C_BIT | V_BIT
    return 0


def run_test(t: dict, model_name: str = "arm7tdmi", decoder=None) -> list[str]:
    """Run one test; the list of mismatches (empty when it passes).
    ``decoder``: one to reuse across tests (a new one otherwise)."""
    model = get_model(model_name)
    decoder = decoder or ArmDecoder(model, REGISTRY)
    ini, fin = t["initial"], t["final"]
    s = state_from(ini)
    s.pc = t["base_addr"]
    oracle = Oracle(t)
    ops = ArmOps(s, model, oracle.read, oracle.write)
    try:
        step(s, ops, decoder)
    except OracleMiss as e:
        return [str(e)]
    got = s.snapshot_banks()
    if s.pc == (t["base_addr"] + 4) & 0xFFFFFFFF:
        got["R"][15] = ini["R"][15] + 4           # no branch: the pipeline moved on by a word
    else:
        got["R"][15] = (s.pc + (4 if s.cpsr & T_BIT else 8)) & 0xFFFFFFFF
    bad = []
    for k in ("R",) + BANK_KEYS:
        for n, (a, b) in enumerate(zip(got[k], fin[k])):
            if a != b:
                bad.append(f"{k}[{n}] {a:#010x} != {b:#010x}")
    mask = ~_mask_for(t["opcodes"][0])
    if (s.cpsr ^ fin["CPSR"]) & mask:
        bad.append(f"CPSR {s.cpsr:#010x} != {fin['CPSR']:#010x}")
    for m, v in zip(SPSR_MODES, fin["SPSR"]):
        if s.spsr[m] != v:
            bad.append(f"SPSR_{MODE_NAMES[m]} {s.spsr[m]:#010x} != {v:#010x}")
    want = [(tr["addr"] & -tr["size"], tr["size"], tr["data"])
            for tr in t["transactions"] if tr["kind"] == 2]
    if [(a & -z, z, d) for a, z, d in oracle.writes] != want:
        bad.append(f"writes {[(hex(a), z, hex(d)) for a, z, d in oracle.writes]} != "
                   f"{[(hex(a), z, hex(d)) for a, z, d in want]}")
    return bad


def run_file(path: str, model_name: str = "arm7tdmi", decoder=None) -> list[tuple[int, int, list]]:
    """(index, opcode, mismatches) of every failing test in ``path``."""
    decoder = decoder or ArmDecoder(get_model(model_name), REGISTRY)
    out = []
    for k, t in enumerate(load(path)):
        bad = run_test(t, model_name, decoder)
        if bad:
            out.append((k, t["opcodes"][0], bad))
    return out


def run_suite(directory: str, model_name: str = "arm7tdmi") -> dict:
    """Every ``*.json.gz`` file of ``directory``: {file name: (tests,
    failures as run_file gives them)}; for ``emu conformance``."""
    import glob
    import os
    out = {}
    decoder = ArmDecoder(get_model(model_name), REGISTRY)
    for path in sorted(glob.glob(os.path.join(directory, "*.json.gz"))):
        name = os.path.basename(path)[:-len(".json.gz")]
        out[name] = (len(load(path)), run_file(path, model_name, decoder))
    return out
