"""What the generic IR asks of a target (QEMU's ``TranslatorOps`` and TCG globals).

The IR, its optimiser and the Python code generator know no architecture;
a target's translator front end describes itself with an :class:`IRTarget`
(built once, by the target) and fills in three declared interfaces:

* **globals** -- the register file and program counter translated code
  reads and writes: guest register *n* lives in the local ``r<n>`` and is
  loaded from / stored back to ``R[n]`` (an indexed register file, as TCG's
  ``tcg_global_mem_new``); the program counter is the attribute
  ``S.<pc_field>`` of the CPU state; ``reg_names`` and ``space_names`` name
  registers and address spaces in IR dumps;
* **a flag record** (:class:`FlagRecord`) -- the lazy condition-code state
  (``op, res, a, b, size`` of the last flag-setting operation, and the
  explicit flags word ``fl``) that the optimiser may keep in locals and sink
  into the exits, with what each recorded operation reads of it;
* **memory-access hooks** (:class:`MemoryAccess`) -- how a ``ld``/``st`` of
  guest memory and the bindings it needs are emitted.

The front end that turns decoded instructions into IR subclasses
:class:`emu.ir.builder.TranslatorOps` (QEMU's ``init_disas_context``,
``insn_start``, ``translate_insn``, ``tb_stop``); what the translator
engine asks of the target besides is :class:`TranslatorFrontend`.
"""

from __future__ import annotations

import re

from .opcodes import CC_FIELDS


class FlagRecord:
    """A target's lazy condition-code record, as the IR sees it.

    * ``state_names``: field (one of ``CC_FIELDS``) -> the CPU state's
      attribute holding it;
    * ``cf_mask``: the carry bit in ``fl`` (what ``foldcf`` replaces);
    * ``cf_hidden``: record kinds (values of ``op``) under which ``fl``'s
      arithmetic bits do not show in the architectural flags;
    * ``fa_hidden``: record kinds under which fl's arithmetic bits other
      than the carry do not show (``cf_hidden`` and the kinds that keep the
      carry, as x86's INC and DEC; by default ``cf_hidden``);
    * ``record_uses``: record kind -> the fields the flag computations of that
      kind read (a field not read needs not be stored);
    * ``carry_exprs``: record kind -> the carry as a Python expression over
      ``{res}``, ``{a}``, ``{b}`` (``{fl}`` for every other kind is
      ``fl & cf_mask``), used when code generation knows the kind;
    * ``carry_low_bit``: the record kind whose carry is bit 0 of ``a``
      (a packed flags word made by the operation), or None;
    * ``carry_call``: the name of the pure helper (``IRTarget.pure_calls``)
      computing the carry of a record ``(op, res, a, b, fl)``;
    * ``fields``: the fields the target's translated code uses (all of
      ``CC_FIELDS``, or only ``("fl",)`` for a target whose flags are
      computed eagerly into its flags word); only those have a state
      attribute and are read or written;
    * ``arith_mask``: fl's arithmetic flags, those the record computes --
      all a ``setfl`` with ``Op.keeps`` (and ``foldcf``) may change; or
      None (not described).  An ``and`` of fl with a constant clearing them
      all reads none of them (flag liveness, :mod:`emu.ir.optimize`), and a
      region whose every ``setfl`` has ``keeps`` or writes constants equal
      to what it found leaves every other bit of ``fl`` as it found it (x86:
      DF, IF, TF...), so its reads of them are constants under its entry
      guard (:func:`emu.ir.optimize.constant_fl_bits`).
    * ``flags_call``: the name of the pure helper computing the whole flags
      word of a record ``(op, res, a, b, size, fl)``, which leaves ``fl``'s
      bits outside ``arith_mask`` as they are; or None.
    * ``carried``: a field (``"fl"``) that a jump from one section of a
      region to another carries as the operands of its expression rather
      than its value, or None.  For a target whose flags are eager (an
      expression of ~20 operations over the last comparison's operands) the
      word is then computed only where it is read -- an exit, a helper, a
      condition -- not at every jump between sections
      (:meth:`emu.ir.codegen.RegionCodegen.carry`); the field must hold a
      non-negative integer (a negative one marks a carried value).
    """

    def __init__(self, state_names: dict, cf_mask: int, cf_hidden, record_uses: dict,
                 carry_exprs: dict, carry_low_bit=None, carry_call="carry", fields=CC_FIELDS,
                 fa_hidden=(), arith_mask=None, carried=None, flags_call=None):
        self.fields = tuple(f for f in CC_FIELDS if f in fields)
        missing = set(self.fields) - set(state_names)
        if missing:
            raise ValueError(f"flag record: no state attribute for {sorted(missing)}")
        self.state_names = dict(state_names)
        self.cf_mask = cf_mask
        self.cf_hidden = frozenset(cf_hidden)
        self.fa_hidden = self.cf_hidden | frozenset(fa_hidden)
        self.arith_mask = arith_mask
        self.record_uses = {k: frozenset(v) for k, v in record_uses.items()}
        self.carry_exprs = dict(carry_exprs)
        self.carry_low_bit = carry_low_bit
        self.carry_call = carry_call
        self.flags_call = flags_call
        self.carried = carried


class MemoryAccess:
    """Memory-access hooks: how generated code reaches guest memory.

    A target implements each method; ``cg`` is the code generator
    (:class:`emu.ir.codegen.PyCodegen`), whose ``val``, ``new_local``,
    ``emit``, ``bail_if`` and ``access`` methods the hooks build on.  The
    names the hooks bind in the prologue are theirs alone: the code
    generator's own locals are ``r<n>``, ``cc_<field>``, ``left``,
    ``left0``, ``e``, ``g``, ``rip``, ``pc``, ``ca<n>`` (a carried flag
    field's operands) and what ``new_local`` hands out."""

    #: the address space whose runs of word loads (:func:`emu.ir.codegen.load_runs`)
    #: the code generator finds for ``load_store`` (``cg.runs``): the stack's,
    #: where the target has one its hooks test once per run; None: none
    run_space = None

    def flat_base(self, space):
        """The guest address at which RAM starts in address space ``space``
        when the space is flat -- an address there less this base indexes
        RAM, with no other test than that it lies inside RAM (and a store's
        code test) -- or None (the default: every access the hooks' way).
        A loop's range test (:meth:`emu.ir.codegen.RegionCodegen._range_plan`)
        then makes the accesses of many passes at once plain RAM."""
        return None

    def params(self, spaces) -> list:
        """The function parameters (``name=name``, bound from the engine's
        namespace) the memory accesses of code using ``spaces`` need."""
        raise NotImplementedError

    def prologue(self, cg, spaces) -> None:
        """Emit, at the function's entry, what the accesses to ``spaces`` read."""
        raise NotImplementedError

    def load_store(self, cg, op, k: int, ip: int, load: bool) -> None:
        """Emit the ``ld`` or ``st`` ``op`` of instruction ``k`` (at ``ip``):
        the checks that bail to the interpreter, then ``cg.access``."""
        raise NotImplementedError

    def space_value(self, n: int) -> str:
        """The expression ``getseg n`` compiles to."""
        raise NotImplementedError

    def guard(self, cg, fast) -> list:
        """The conditions under which a region's entry guard fails for the
        address spaces ``fast`` (space -> mode) its unchecked accesses assume."""
        raise NotImplementedError

    def spaces_changed(self, ops) -> set:
        """The address spaces whose mapping (what ``prologue`` binds) the
        ``call_bail`` ops among ``ops`` may change: a region's entry guard
        cannot vouch for them.  By default a call changes none."""
        return set()

    def remapped_mode(self, space, mode, ops, code_map):
        """The fast-access mode (``mode``: what ``fast_spaces`` gave) space
        ``space`` keeps in a region whose own code (``ops``, all its blocks')
        remaps it, with RAM's ``code_map`` as it is now, or None: each access
        checked.  By default None."""
        return None

    def before_call(self, cg, op, k: int, ip) -> None:
        """Emit, before the ``call_bail`` ``op`` of instruction ``k`` (at
        ``ip``), the tests that leave the block before the instruction where
        the call would remap a space so that the region's fast accesses to
        it (what its entry guard vouched for) would no longer hold.  By
        default a call changes none."""

    def after_call(self, cg, op, k: int, ip) -> None:
        """Emit, after the ``call_bail`` ``op`` of instruction ``k`` (at
        ``ip``; it did not bail), what binds again the spaces it changed, and
        the tests that leave the block before the instruction where the new
        mapping breaks what the region's entry guard vouched for (the
        instruction must then do the same again).  By default a call
        changes none."""


class IRTarget:
    """A target's description for the IR (see the module docstring):
    ``pure_calls`` maps a helper name to (function, result bits); generated
    code binds each function by its name."""

    def __init__(self, name: str, reg_names, space_names, pc_field: str, flags: FlagRecord,
                 pure_calls: dict, memory: MemoryAccess):
        self.name = name
        self.reg_names = tuple(reg_names)
        self.space_names = tuple(space_names)
        self.pc_field = pc_field
        self.flags = flags
        self.pure_calls = dict(pure_calls)
        self.memory = memory        # the hooks for code that runs with no address translation
        # a call of one of them in generated code (never matches when there is none)
        self.call_re = re.compile(r"\b(?:" + "|".join(self.pure_calls) + r")\(" if self.pure_calls
                                  else r"(?!)")

    def reg_name(self, n: int) -> str:
        return self.reg_names[n] if n < len(self.reg_names) else f"r{n}"

    def space_name(self, n: int) -> str:
        return self.space_names[n] if n < len(self.space_names) else f"s{n}"


class TranslatorFrontend:
    """What the translator engine (:mod:`emu.accel.tcg`) asks of a target's
    front end, the object ``Target.ir_frontend(model)`` returns.  The engine
    passes its Core (``core``: :mod:`emu.isa.core`), its Interpreter
    (``interp``) and itself (``tr``); a front end subclasses this and
    overrides every method.

    * ``ir``: the target's :class:`IRTarget`;
    * ``call_names``: instructions whose return site a region keeps inside
      (a return comes back there);
    * ``indirect_names``: jumps and calls through a register or memory
      (not returns): a region takes in the blocks of their page that have
      run, where such a jump may go (:meth:`jumps_indirectly`, which a
      target whose names do not tell overrides);
    * ``fault_regs``: state attributes a fetch may change that translating
      apart (``emu translate``, the debugger's ``info tb``) puts back;
    * ``max_region_blocks``: the most blocks a region takes in, and
      ``max_block_copies``: the most regions a block is copied into, for a
      target whose code needs more than the engine's defaults (None)."""

    ir: IRTarget = None
    call_names: frozenset = frozenset()
    indirect_names: frozenset = frozenset()
    fault_regs: tuple = ()
    #: the most blocks a region takes in (None: the engine's default)
    max_region_blocks: int | None = None
    #: the most regions a block is copied into (None: the engine's default)
    max_block_copies: int | None = None

    def jumps_indirectly(self, insn) -> bool:
        """The decoded instruction ``insn`` (the last of a block) is a jump or
        call through a register or memory that is not a return: where it
        may go, a region takes in the blocks of its page that have run.  By
        default, one of ``indirect_names``."""
        return insn.name in self.indirect_names

    def namespace(self, state, ram) -> dict:
        """The names generated code reads besides ``S`` (the state), ``MM``
        (RAM), ``CP`` (RAM's code map) and ``OPS`` (the core's Ops): at least
        ``R``, the register file."""
        raise NotImplementedError

    def watch_tlb(self, ops, fn):
        """Have ``fn()`` called whenever the address mapping changes; return
        the hook it replaced (which ``fn`` calls), or None when there is none."""
        raise NotImplementedError

    def tb_key(self, core, ip: int, cap: int) -> tuple:
        """The block key at ``ip``: (fetch base, ip, decode flags, what else the
        translation depends on, paging -- 0 when off --, cap)."""
        raise NotImplementedError

    def mem_model(self, core, key) -> MemoryAccess:
        """The memory-access hooks of code translated under ``key``."""
        raise NotImplementedError

    def builder(self, block, key):
        """A :class:`emu.ir.builder.TranslatorOps` filling ``block`` under ``key``."""
        raise NotImplementedError

    def ends_block(self, insn) -> bool:
        """The decoded instruction ends a block (a control transfer or a helper):
        how far the interpreter runs code that is not translated yet."""
        raise NotImplementedError

    def deliberate_helper(self, insn) -> bool:
        """The instruction is a helper by design (not inlining it is no fallback)."""
        raise NotImplementedError

    def fast_spaces(self, state, ram_size: int, amask: int, code_map=None) -> dict:
        """Address spaces a region may access unchecked once its entry guard
        passed (space -> mode, for ``MemoryAccess.guard``); ``code_map``:
        RAM's flags of granules holding translated code, now."""
        raise NotImplementedError

    def mark_safe_loads(self, blocks, fast) -> None:
        """Flag the loads of ``blocks`` that cannot bail under ``fast``."""
        raise NotImplementedError

    def attention(self, core, interp):
        """A function of no argument, called at each block lookup: true when
        the interpreter must run the next instruction (a halted CPU, an
        interrupt that may be taken, a trace trap)."""
        raise NotImplementedError

    def fast_path(self, tr, insn, budget: int) -> int:
        """Run the repeating helper ``insn`` (``insn.repeats``) up to ``budget``
        times at once; the instructions retired, 0: not applicable."""
        raise NotImplementedError

    def helper_span(self, state, insn, left: int) -> int:
        """How many instructions the interpreter may run for the repeating
        helper ``insn`` (at most ``left``)."""
        raise NotImplementedError
