"""The IR's opcode set, as data (QEMU's ``tcg/tcg-opc.h`` in spirit).

Values are SSA temporaries (``t12``) or translation-time constants.  A
temporary holds a Python int -- unbounded, like the ints the interpreter
computes with -- so an IR operation means exactly what the Python operator
means on the interpreter's ints, and semantics run on both worlds unchanged.
Widths are explicit in the operations that have them (``getr``/``setr``,
``ld``/``st``: size in bytes); the builder also tracks, for each temporary,
an upper bound on its bit length (its *width*), which is what lets
``t & 0xffff`` fold away when ``t`` is already 16 bits wide.

Each row: name, outputs, value inputs (-1: variadic), translation-time
arguments, flags, the Python expression it compiles to (pure ops) and what
it means.

Flags:

* ``pure``     no side effect: removed when its result is unused, folded when
               its inputs are constants
* ``reg``      reads or writes a guest register (a local in generated code)
* ``cc``       reads or writes the lazy condition-code record
* ``bail``     may leave the block *before* the instruction it belongs to, so
               the interpreter runs that instruction instead (non-RAM, a
               check the target's memory hooks make, e.g. x86's segment
               limit, a write into a code page; a ``call_bail`` helper that
               declined, e.g. port I/O that needs a real exit)
* ``exit``     may leave the block (a side exit)
* ``end``      always leaves the block: nothing follows it
* ``marker``   no code; bookkeeping for dumps and state restoration
"""

from __future__ import annotations

from dataclasses import dataclass

PURE, REG, CC, BAIL, EXIT, END, MARKER = "pure", "reg", "cc", "bail", "exit", "end", "marker"


@dataclass(frozen=True)
class OpDef:
    name: str
    n_out: int
    n_in: int
    n_aux: int
    flags: frozenset
    py: str | None
    doc: str
    pure: bool = False      # PURE in flags (a field: the optimiser asks for every op)


_ROWS = (
    # name          out  in  aux  flags            python            meaning
    ("mov",          1,  1,  0,  (PURE,),         "{0}",            "copy"),
    ("add",          1,  2,  0,  (PURE,),         "{0} + {1}",      "a + b"),
    ("sub",          1,  2,  0,  (PURE,),         "{0} - {1}",      "a - b (may go negative: mask it)"),
    ("mul",          1,  2,  0,  (PURE,),         "{0} * {1}",      "a * b"),
    ("and",          1,  2,  0,  (PURE,),         "{0} & {1}",      "a & b"),
    ("or",           1,  2,  0,  (PURE,),         "{0} | {1}",      "a | b"),
    ("xor",          1,  2,  0,  (PURE,),         "{0} ^ {1}",      "a ^ b"),
    ("shl",          1,  2,  0,  (PURE,),         "{0} << {1}",     "a << b"),
    ("shr",          1,  2,  0,  (PURE,),         "{0} >> {1}",     "a >> b (a >= 0: logical)"),
    ("div",          1,  2,  0,  (PURE,),         "{0} // ({1} or 1)", "a // b, a and b >= 0 (b = 0: a bailif before it leaves)"),
    ("mod",          1,  2,  0,  (PURE,),         "{0} % ({1} or 1)", "a % b, a and b >= 0 (b = 0: a bailif before it leaves)"),
    ("not",          1,  1,  0,  (PURE,),         "~{0}",           "~a (Python: -a - 1)"),
    ("neg",          1,  1,  0,  (PURE,),         "-{0}",           "-a"),
    ("bitlen",       1,  1,  0,  (PURE,),         "({0}).bit_length()", "the bit length of a (a >= 0; 0 for 0)"),
    ("eq",           1,  2,  0,  (PURE,),         "{0} == {1}",     "boolean a == b"),
    ("ne",           1,  2,  0,  (PURE,),         "{0} != {1}",     "boolean a != b"),
    ("lt",           1,  2,  0,  (PURE,),         "{0} < {1}",      "boolean a < b"),
    ("le",           1,  2,  0,  (PURE,),         "{0} <= {1}",     "boolean a <= b"),
    ("gt",           1,  2,  0,  (PURE,),         "{0} > {1}",      "boolean a > b"),
    ("ge",           1,  2,  0,  (PURE,),         "{0} >= {1}",     "boolean a >= b"),
    ("select",       1,  3,  0,  (PURE,),         "{1} if {0} else {2}", "c ? a : b"),
    ("call",         1, -1,  1,  (PURE,),         None,             "pure helper (flag computation) by name"),
    ("getr",         1,  0,  2,  (PURE, REG),     None,             "low <size> bytes of guest register n"),
    ("getseg",       1,  0,  1,  (PURE,),         None,             "address space n's own value (x86: a segment selector)"),
    ("getcc",        1,  0,  1,  (PURE, CC),      None,             "one field of the lazy flags record"),
    ("setr",         0,  1,  2,  (REG,),          None,             "write low <size> bytes of register n (4, 8: zero-extend)"),
    ("setcc",        0,  5,  0,  (CC,),           None,             "record a flag-setting operation (op, res, a, b, size)"),
    ("setccop",      0,  1,  0,  (CC,),           None,             "set cc_op alone (flags made explicit)"),
    ("setfl",        0,  1,  0,  (CC,),           None,             "write the explicit flags word fl"),
    ("foldcf",       0,  1,  0,  (CC,),           None,             "fl = fl & ~CF | c  (INC/DEC keep CF)"),
    ("ld",           1, -1,  2,  (BAIL,),         None,             "load <size> bytes at space:off from RAM (x86: seg:off); a second input c: only if c (else 0)"),
    ("st",           0, -1,  2,  (BAIL,),         None,             "store <size> bytes at space:off into RAM (x86: seg:off); a third input c: only if c"),
    ("bailif",       0,  1,  0,  (BAIL,),         None,             "if c: leave before the instruction (the interpreter runs it)"),
    ("call_bail",    1, -1,  1,  (BAIL,),         None,             "OPS.<name>(args), side effects; < 0: did nothing, bail"),
    ("budget",       1,  0,  0,  (),              None,             "the budget left beyond the path's own count"),
    ("retire",       0,  1,  0,  (),              None,             "v more instructions retired (a repeat)"),
    ("insn_start",   0,  0,  2,  (MARKER,),       None,             "guest instruction k at ip begins"),
    ("brcond",       0,  1,  2,  (EXIT,),         None,             "if c: leave to the direct successor (slot, ip)"),
    ("goto_tb",      0,  0,  2,  (EXIT, END),     None,             "leave to the direct successor (slot, ip)"),
    ("exit_tb",      0,  1,  0,  (EXIT, END),     None,             "leave with IP = a computed value (look up the next block)"),
    ("exit_sync",    0,  1,  0,  (EXIT, END),     None,             "leave with IP = a value, to the dispatcher's full look-up: no chaining by IP (the code segment changed) and interrupts looked at (IF or TF may have changed)"),
    ("call_helper",  0,  0,  2,  (EXIT, END),     None,             "run guest instruction k with ConcreteOps (QEMU's helper_*)"),
)

OPCODES: dict[str, OpDef] = {r[0]: OpDef(r[0], r[1], r[2], r[3], frozenset(r[4]), r[5], r[6], PURE in r[4])
                              for r in _ROWS}

COMMUTATIVE = frozenset(("add", "mul", "and", "or", "xor", "eq", "ne"))
COMPARISONS = {"eq": "ne", "ne": "eq", "lt": "ge", "ge": "lt", "le": "gt", "gt": "le"}

# fields of the lazy condition-code record (the kind of the last flag-setting
# operation, its result, operands and size, and the explicit flags word); a
# target names where its CPU state keeps each (emu.ir.frontend.FlagRecord)
CC_FIELDS = ("op", "res", "a", "b", "size", "fl")
