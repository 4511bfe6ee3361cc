"""The ``Ops`` interface: what instruction semantics are written against.

Every instruction's meaning is written exactly once, as a function
``sem(ops, insn)`` that speaks only through ``ops`` (read an operand, write a
register, record flags, load, store, branch, raise an exception).  Two
implementations run those functions:

* ``ConcreteOps`` (the interpreter): values are Python ints and each call
  does the work at once;
* the IR builder (the translator): values are IR temporaries and each call
  *emits* IR, which is optimised and compiled to Python.

Values support Python's arithmetic and bitwise operators (``+ - * & | ^ ~
<< >>``) in both worlds, so semantics read like the manual's pseudocode.
What a semantic function may *not* do is branch in Python on a run-time
value (``if a == 0:``): in the translator such a value is symbolic.  It
branches on translation-time constants instead (operand sizes, the decoded
instruction's fields, the CPU model), and uses ``ops.select`` or
``ops.branch`` for run-time choices.

Instructions whose meaning is mostly run-time control flow (DIV with its
#DE, string instructions under REP, INT, far transfers, BCD adjusts) are
registered as **helpers** (``@semantics(..., helper=True)``): they only ever
run on concrete values.  The translator does not inline them; it emits a
call that runs the very same function with the interpreter's ops at run
time -- QEMU's ``helper_*`` functions, with no second copy of anything.
"""

from __future__ import annotations


class Registry:
    """Semantic functions by encoding name, for one architecture."""

    def __init__(self, arch: str):
        self.arch = arch
        self.table: dict[str, object] = {}
        self.helpers: set[str] = set()

    def semantics(self, *names: str, helper: bool | str = False):
        """Register ``fn`` for ``names``.  ``helper``: True -- always run on
        concrete values (a translator calls it); ``"rep"`` -- only under a REP
        prefix (one iteration of a plain string instruction translates)."""
        if helper not in (False, True, "rep"):
            raise ValueError(f"helper={helper!r}: expected False, True or 'rep'")

        def deco(fn):
            for n in names:
                if n in self.table:
                    raise ValueError(f"{self.arch}: semantics for {n} registered twice")
                self.table[n] = fn
                if helper:
                    self.helpers.add(n)
            fn.is_helper = helper
            return fn
        return deco

    def get(self, name: str):
        return self.table.get(name)

    def is_helper(self, name: str) -> bool:
        return name in self.helpers


class GuestException(Exception):
    """A guest-visible exception raised by semantics (x86 #DE, #UD, ...; ARM UNDEF ...).

    It is a guest event, never an emulator crash: the engine delivers it to
    the guest's handler."""

    def __init__(self, vector: int, error_code: int | None = None, detail: str = ""):
        super().__init__(vector, error_code, detail)
        self.vector = vector
        self.error_code = error_code
        self.detail = detail


class IoPending(Exception):
    """Raised by ConcreteOps when an instruction needs data from an I/O read
    the Machine has not served yet.  Nothing has been committed; the
    instruction is re-executed once the Machine has filled the exit's data."""


class Unsupported(Exception):
    """The guest used something kasou does not model yet.  The engine stops
    with an INTERNAL_ERROR exit naming it (never a silent misrun); the gap is
    also listed by ``emu coverage``."""
