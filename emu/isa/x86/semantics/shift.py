"""Shifts and rotates (SDM Vol. 1 §7.3.5-§7.3.6): ROL ROR RCL RCR SHL SHR SAL SAR SHLD SHRD, per-model count masking.

Count sources and where the work happens:

* ``D0``/``D1`` (count 1) and ``C0``/``C1``/``SHLD Ib``/``SHRD Ib``
  (immediate count): the count is a translation-time constant, so these are
  **inline**; a masked count of 0 compiles to nothing.
* ``D2``/``D3``/``SHLD CL``/``SHRD CL`` (the table's ``*_CL`` encoding
  names): the count is a run-time value and a count of 0 must leave the
  destination and every flag untouched.  They are inline too: translated,
  the result and the flags are picked by ``count == 0`` (``select``; the
  flag record of a shift by ``set_cc_if``, a rotate's CF and OF by a
  ``select`` of the old ones); the interpreter runs the very same
  ``_shift``/``_shift_arith``/``_double`` with a concrete count.

Count masking (``CpuModel.shift_mask``): the 8086 does not mask the count
(up to 255 iterations of its microcode loop); the 186 and later mask it to
5 bits, and to 6 bits for a 64-bit operand.  RCL/RCR then rotate modulo
width+1, ROL/ROR modulo width; SHL/SHR/SAR by a count >= width leave 0 (or
all sign bits) and shift the last bit out into CF, as the iterating chips do.

Flags, for a nonzero masked count (SDM "SAL/SAR/SHL/SHR", "RCL/RCR/ROL/ROR"):

* shifts: CF = the last bit shifted out; SF/ZF/PF from the result; AF
  (undefined) = 0, or 1 with ``model.shift_af`` (``-cpu max``: the AMD
  host under KVM sets it); OF as the last step of the iteration leaves it: SHL
  MSB(result) ^ CF, SHR the MSB of the operand before the last step, SAR 0.
  For a count of 1 that is the SDM's definition; for larger counts it is
  what the 8086/286 vectors show (the 286 defines OF of C0 byte shifts).
* rotates: only CF and OF change.  CF = LSB(result) (ROL, RCL: the rotated-in
  carry) or MSB(result) (ROR, RCR: the bit rotated out); OF = MSB(result) ^
  CF for left rotates and MSB(result) ^ MSB-1(result) for right rotates --
  the count-1 rule applied to the last step.
* SHLD/SHRD: as SHL/SHR of the concatenation.  A 16-bit operand with a count
  of 17..31 behaves as Intel's chips do (QEMU models the same): the
  destination is shifted through ``dest:src:dest``.

SAL (``/6`` on the 186 and later) is SHL.  The 8086's ``/6`` is SETMO/SETMOC
(undocumented): it writes all ones and sets flags as ``OR dest, -1`` would
(the SingleStepTests 8086 vectors); SETMOC does nothing when CL is 0.
"""

from ..flags import AF, CC_LOGIC, CC_O, CC_RES, CF, MASK, OF, SIGN
from ..insn import REG
from . import sem

ROL, ROR, RCL, RCR, SHL, SHR, SAR = range(7)
CF_OF = CF | OF
KINDS = {"ROL": ROL, "ROR": ROR, "RCL": RCL, "RCR": RCR,
         "SHL": SHL, "SAL": SHL, "SHR": SHR, "SAR": SAR}


def count_mask(ops, size: int) -> int:
    """The count mask of this CPU for a ``size``-byte operand."""
    return 0x3F if size == 8 else ops.model.shift_mask


def _shift(ops, i, kind: int, a, c, zero=None) -> None:
    """Rotate operand 0 (value ``a``) by the masked count ``c`` >= 1.

    ``c`` is a Python int in the interpreter and for an immediate count; in
    translated code a rotate by CL has a run-time count: then ``zero`` says
    whether CL's masked count was 0 (``c`` is 1 in its place), which writes
    the operand back as it was and keeps CF and OF as they were (a rotate
    changes no other flag)."""
    size = i.size
    bits = 8 * size
    m = MASK[size]
    dst = i.ops[0]
    if kind <= RCR:
        if kind == ROL:
            r = c % bits
            res = ((a << r) | (a >> (bits - r))) & m
            cf = res & 1
            of = ((res >> (bits - 1)) ^ cf) & 1
        elif kind == ROR:
            r = c % bits
            res = ((a >> r) | (a << (bits - r))) & m
            cf = (res >> (bits - 1)) & 1
            of = (cf ^ (res >> (bits - 2))) & 1
        else:
            n = bits + 1
            r = c % n
            wide = (ops.get_cf() << bits) | a
            if kind == RCL:
                w = ((wide << r) | (wide >> (n - r))) & ((1 << n) - 1)
                res = w & m
                cf = w >> bits
                of = ((res >> (bits - 1)) ^ cf) & 1
            else:
                w = ((wide >> r) | (wide << (n - r))) & ((1 << n) - 1)
                res = w & m
                cf = w >> bits
                of = ((res >> (bits - 1)) ^ (res >> (bits - 2))) & 1
        new = cf | (of << 11)
        if zero is None:
            ops.write(dst, res)
        else:
            ops.write(dst, ops.select(zero, a, res))
            new = ops.select(zero, ops.get_cf() | (ops.cond(CC_O) << 11), new)
        ops.set_flags(new, CF_OF)
        return
    _shift_arith(ops, i, kind, a, c, zero)


def _shift_arith(ops, i, kind: int, a, c, zero=None) -> None:
    """SHL, SHR or SAR of operand 0 (value ``a``) by the count ``c`` >= 1.
    In translated code the count may be a run-time value: then ``zero``
    says whether CL's masked count was 0 (``c`` is 1 in its place), which
    writes the operand back as it was and keeps the flag record in force
    (a memory operand is stored unchanged: a store that cannot be made in
    the block leaves it before the instruction)."""
    size = i.size
    bits = 8 * size
    m = MASK[size]
    if kind == SHL:
        w = a << c
        res = w & m
        cf = (w >> bits) & 1
        of = ((res >> (bits - 1)) ^ cf) & 1
    elif kind == SHR:
        last = a >> (c - 1)
        res = last >> 1
        cf = last & 1
        of = (last >> (bits - 1)) & 1
    else:   # SAR
        s = SIGN[size]
        last = ((a ^ s) - s) >> (c - 1)
        res = (last >> 1) & m
        cf = last & 1
        of = 0
    af = AF if ops.model.shift_af else 0
    if zero is None:
        ops.write(i.ops[0], res)
        ops.set_cc(CC_RES, res, cf | (of << 1) | af, 0, size)
    else:
        ops.write(i.ops[0], ops.select(zero, a, res))
        ops.set_cc_if(ops.lnot(zero), CC_RES, res, cf | (of << 1) | af, 0, size)


#: the work of each kind for a nonzero count
_WORK = {k: (_shift if k <= RCR else _shift_arith) for k in range(SAR + 1)}


# A masked count of 0 still reads the operand (a memory operand can fault:
# the 286 vectors show #GP for ``rol word [0xFFFF], 0x80``), then changes no
# flag and no value -- but a 32-bit register destination is still written,
# so in 64-bit mode its upper half is cleared (the CPU under KVM does so for
# every shift, rotate and SHLD/SHRD, as any 32-bit register write does).

def _count_zero(ops, i, a) -> None:
    dst = i.ops[0]
    if dst.kind == REG and i.size == 4:
        ops.write(dst, a)


def _inline(kind):
    work = _WORK[kind]

    def shift_imm(ops, i):
        a = ops.read(i.ops[0])
        c = i.ops[1].value & (0x3F if i.size == 8 else ops.model.shift_mask)   # count_mask()
        if c:
            work(ops, i, kind, a, c)
        else:
            _count_zero(ops, i, a)
    return shift_imm


def _by_cl(kind, work, n: int = 1, mask=count_mask):
    """The semantics of a shift, rotate (``work`` = ``_WORK[kind]``) or
    SHLD/SHRD (``_double``, ``kind`` its direction) by CL, operand ``n``,
    masked by ``mask(ops, size)``."""

    def shift_cl(ops, i):
        a = ops.read(i.ops[0])
        c = ops.read(i.ops[n]) & mask(ops, i.size)
        if isinstance(c, int):          # the interpreter, or CL known when translated
            if c:
                work(ops, i, kind, a, c)
            else:
                _count_zero(ops, i, a)
            return
        zero = c == 0           # a run-time count (translated): 0 changes nothing
        work(ops, i, kind, a, ops.select(zero, 1, c), zero)
    return shift_cl


def _register(name, kind):
    section = "RCL/RCR/ROL/ROR" if kind <= RCR else "SAL/SAR/SHL/SHR"
    f = sem(name)(_inline(kind))
    f.__name__ = name.lower()
    f.__doc__ = f'{name} r/m, 1 / imm8  (SDM Vol. 2B "{section}"): constant count, inline.'
    g = sem(name + "_CL")(_by_cl(kind, _WORK[kind]))
    g.__name__ = name.lower() + "_cl"
    g.__doc__ = f'{name} r/m, CL  (SDM Vol. 2B "{section}"): run-time count; 0 changes nothing.'


for _name, _kind in KINDS.items():
    _register(_name, _kind)
del _name, _kind


@sem("SETMO")
def setmo(ops, i):
    """SETMO r/m  (8086 undocumented D0/D1 /6): r/m = all ones; flags as OR r/m, -1."""
    m = MASK[i.size]
    ops.write(i.ops[0], m)
    ops.set_cc(CC_LOGIC, m, 0, 0, i.size)


@sem("SETMOC", helper=True)
def setmoc(ops, i):
    """SETMOC r/m, CL  (8086 undocumented D2/D3 /6): SETMO when CL != 0, else nothing."""
    ops.read(i.ops[0])
    if ops.read(i.ops[1]):
        setmo(ops, i)


def _double(ops, i, left: bool, a, c, zero=None) -> None:
    """SHLD/SHRD of operand 0 (value ``a``) by the masked count ``c`` >= 1
    (SDM Vol. 2B "SHLD", "SHRD"); a run-time count and ``zero`` as in
    :func:`_shift_arith`."""
    size = i.size
    bits = 8 * size
    m = MASK[size]
    dst = i.ops[0]
    b = ops.read(i.ops[1])
    if size == 2:
        top = 48                      # dest:src:dest, as Intel's chips shift it
        v = (a << 32) | (b << 16) | a
    else:
        top = 2 * bits
        v = (a << bits) | b if left else (b << bits) | a
    if left:
        res = (v >> (top - bits - c)) & m
        cf = (v >> (top - c)) & 1
        of = ((res >> (bits - 1)) ^ cf) & 1
    else:
        last = v >> (c - 1)
        res = (last >> 1) & m
        cf = last & 1
        of = ((last ^ res) >> (bits - 1)) & 1
    af = AF if ops.model.shift_af else 0
    if zero is None:
        ops.write(dst, res)
        ops.set_cc(CC_RES, res, cf | (of << 1) | af, 0, size)
    else:
        ops.write(dst, ops.select(zero, a, res))
        ops.set_cc_if(ops.lnot(zero), CC_RES, res, cf | (of << 1) | af, 0, size)


def _shxd_mask(ops, size):
    """SHLD/SHRD's count mask (no model masks it otherwise)."""
    return 0x3F if size == 8 else 0x1F


@sem("SHLD")
def shld(ops, i):
    """SHLD r/m, r, imm8  (SDM Vol. 2B "SHLD"): constant count, inline."""
    a = ops.read(i.ops[0])
    c = i.ops[2].value & _shxd_mask(ops, i.size)
    if c:
        _double(ops, i, True, a, c)
    else:
        _count_zero(ops, i, a)


@sem("SHRD")
def shrd(ops, i):
    """SHRD r/m, r, imm8  (SDM Vol. 2B "SHRD"): constant count, inline."""
    a = ops.read(i.ops[0])
    c = i.ops[2].value & _shxd_mask(ops, i.size)
    if c:
        _double(ops, i, False, a, c)
    else:
        _count_zero(ops, i, a)


shld_cl = sem("SHLD_CL")(_by_cl(True, _double, 2, _shxd_mask))
shld_cl.__name__ = "shld_cl"
shld_cl.__doc__ = 'SHLD r/m, r, CL  (SDM Vol. 2B "SHLD"): run-time count; 0 changes nothing.'
shrd_cl = sem("SHRD_CL")(_by_cl(False, _double, 2, _shxd_mask))
shrd_cl.__name__ = "shrd_cl"
shrd_cl.__doc__ = 'SHRD r/m, r, CL  (SDM Vol. 2B "SHRD"): run-time count; 0 changes nothing.'
