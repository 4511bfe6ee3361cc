"""What the ARM model decodes but cannot execute (``emu coverage``), from
the same data the engines use:

* every row of the encoding tables a CPU model decodes -- A32
  (``table.py``, ARM DDI 0406C chapter A5), T16 (``thumb.py``, A6.2) and
  the two 32-bit Thumb encodings that run (BL, BLX; A8.8.25) -- whose
  semantics take the undefined-instruction exception instead of executing
  it (none, ``semantics.undefined``, or the CP15-only ``MCR``/``MRC``): the
  Virtualization extension's banked MRS/MSR, and the coprocessor
  instructions of every coprocessor but CP15 (VFP and Advanced SIMD, p10
  and p11, among them);
* what stops the engine with INTERNAL_ERROR (``ThumbUnsupported``, an
  ``Unsupported``): 32-bit Thumb-2 instructions other than BL/BLX, and IT
  blocks.

Encodings that no row names (the saturating, parallel add/subtract and
signed halfword multiply instructions, SRS/RFE, SETEND) decode as
UNDEFINED and take the undefined-instruction exception, as unallocated
encodings do on x86; ``docs/arm.md`` lists them.  The architecturally
undefined encodings (UDF, the unallocated space) are executed correctly by
trapping and are not listed.
"""

from __future__ import annotations

#: encodings whose undefined-instruction trap is what they do on this CPU
ARCH_UNDEFINED = ("UNDEFINED", "UDF", "T_UDF")
#: the 32-bit Thumb encodings that run (A8.8.25), and the version that has them
T32_ROWS = (("T32_BL", "11110Siiiiiiiiii 11j1jiiiiiiiiiii", 7),
            ("T32_BLX", "11110Siiiiiiiiii 11j0jiiiiiiiiii0", 7))
GAPS = (
    "Thumb-2 (T32, ARM DDI 0406C A6.3): every 32-bit Thumb instruction but BL and BLX",
    "IT blocks (Thumb IT, A8.8.55)",
)


def _rows(model) -> list:
    """(name, pattern, instruction set, first version) of every encoding
    ``model`` decodes."""
    from .table import COMPILED
    from .thumb import COMPILED as T16
    out = [(r.name, r.pattern, "A32", r.arch) for r in COMPILED if r.arch <= model.arch]
    out += [(r.name, r.pattern, "T16", r.arch) for r in T16 if r.arch <= model.arch]
    if model.arch >= 7:         # 32-bit Thumb: BL/BLX only, on ARMv6T2 and later
        out += [(name, pattern, "T32", arch) for name, pattern, arch in T32_ROWS]
    return out


def unimplemented(model_name: str) -> list[tuple[str, str, str]]:
    """``(pattern, name, what happens instead)`` of every encoding ``model``
    decodes but does not execute, sorted by instruction set and name."""
    from .models import get_model
    from .semantics import CP15, REGISTRY, undefined
    model = get_model(model_name)
    out = []
    for name, pattern, iset, _ in _rows(model):
        fn = REGISTRY.get(name)
        if name in ARCH_UNDEFINED or fn is None and iset == "T16":
            continue                    # it runs as the A32 instruction it encodes (listed there)
        if fn is None or fn is undefined:
            out.append((pattern, name, f"{iset}: undefined-instruction exception"))
        elif name in ("MCR", "MRC") and not model.has_cp15:
            out.append((pattern, name, f"{iset}: undefined-instruction exception (no CP15)"))
        elif name in ("MCR", "MRC"):
            regs = ", ".join(reg.upper() for reg, _ in CP15.values())
            out.append((pattern, name, f"{iset}: CP15 {regs} only; any other register: "
                                       "undefined-instruction exception"))
    return sorted(out, key=lambda r: (r[2].split(":")[0], r[1]))


def gaps(model_name: str) -> list[str]:
    """What stops the engine with INTERNAL_ERROR on ``model``."""
    from .models import get_model
    model = get_model(model_name)
    if model.arch >= 7:
        return list(GAPS)
    return []           # ARMv4T: no Thumb-2, no IT; a 32-bit prefix is the BL pair


def coverage(model_name: str) -> tuple:
    """``(total encodings, rows without semantics, gaps)`` for ``model_name``."""
    from .models import get_model
    total = len(_rows(get_model(model_name)))
    return total, unimplemented(model_name), gaps(model_name)


#: a probe's field values (ARM DDI 0406C field names, ``table.LETTERS``):
#: condition AL (A32) or NE (a T16 conditional branch), low registers that
#: are not the PC, a register list {r1, r2}, an immediate of 4, MSR's mask
#: the flags byte; every other field 0
PROBE_FIELDS = {"c": 0b1110, "n": 1, "d": 2, "m": 3, "r": 4, "T": 2, "a": 5, "H": 6, "L": 7,
                "k": 0b110, "i": 4, "f": 0b1000}
T16_COND = 0b0001


def _probe_word(pattern: str, fields: dict) -> int:
    """The instruction word of ``pattern`` with each field set from ``fields``
    (its bits taken from the top down, 0 where a field is not named)."""
    bits = pattern.replace(" ", "")
    left = {ch: bits.count(ch) for ch in set(bits) if ch not in "01x"}
    word = 0
    for ch in bits:
        if ch in "01":
            b = int(ch)
        elif ch == "x":
            b = 0
        else:
            left[ch] -= 1
            b = fields.get(ch, 0) >> left[ch] & 1
        word = word << 1 | b
    return word


def translation_probes(model, target, cap: int) -> tuple:
    """(see :meth:`emu.isa.target.Target.translation_probes`; ``target``:
    the ARM Target, for its reset state and block flags) every A32 and
    T16 row of ``model``, decoded and wrapped as the Core does
    (:class:`emu.isa.arm.core.CoreInsn`), in ARM state and in Thumb state
    (SVC mode, interrupts masked: the reset state); a row whose probe
    decodes as another row (a more specific encoding takes it) is left out;
    blocks of ``cap`` instructions."""
    from .core import CoreInsn
    from .semantics import REGISTRY
    from .state import T_BIT
    from .table import COMPILED
    from .thumb import COMPILED as T16, ArmDecoder
    dec = ArmDecoder(model, REGISTRY)
    modes = [("a32", "ARM state"), ("t16", "Thumb state")]
    probes = []
    for label, rows, thumb in (("a32", COMPILED, False), ("t16", T16, True)):
        state = target.new_state()
        if thumb:
            state.cpsr |= T_BIT
        # (ArmFrontend.tb_key: no RAM span known, so a written-back base is
        # reduced modulo 2^32, as anywhere RAM reaches an end of the space)
        key = (0, 0, target.tb_flags(state) + (state.cpsr & 0x0FFFFFFF,), None, 0, cap)
        fields = dict(PROBE_FIELDS, c=T16_COND) if thumb else PROBE_FIELDS
        for row in sorted(rows, key=lambda r: r.name):
            if row.arch > model.arch or row.name in ARCH_UNDEFINED:
                continue
            word = _probe_word(row.pattern, fields)
            if thumb:
                insn = dec.thumb().decode_half(word, 0)
                if dec.thumb().row_for(word) is not row:
                    continue
            else:
                insn = dec.decode_word(word, 0)
                if insn.row is not row:
                    continue
            probes.append((label, row.pattern, row.name, "", "", CoreInsn(insn, 0, thumb, model), key))
        if thumb and model.arch >= 7:
            for name, pattern, _ in T32_ROWS:
                word = _probe_word(pattern, fields)
                insn = dec.thumb().decode_bl32(word >> 16, word & 0xFFFF, 0)
                probes.append((label, pattern, name, "", "", CoreInsn(insn, 0, thumb, model), key))
    return modes, probes
