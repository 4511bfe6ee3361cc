"""The TCG-style translator: ``-accel tcg``.

Guest code is decoded a basic block at a time, turned into IR by running the
instructions' own semantic functions on the IR builder, optimised, compiled
to a Python function, cached and chained -- QEMU's TCG, with Python as the
host ISA (``-d out_asm`` shows the generated Python).

* The engine is generic: the architecture is the target's translator front
  end (``Target.ir_frontend``: :mod:`emu.isa.x86.ir_front`,
  :mod:`emu.isa.arm.ir_front`), which gives the block key, the IR builder,
  the memory-access model, when the dispatcher must let the interpreter
  run (interrupts, a trace trap, a halted CPU) and any fast path for a
  helper (x86's REP string instructions).
* ``tb_find`` looks a block up by the front end's key (x86: CS base, IP,
  decode mode, SS size, paging, cap; Arm: PC, Thumb bit and mode, cap) --
  QEMU's (pc, cs_base, flags) -- and ``tb_gen_code``
  translates it on a miss.  A block ends at a branch, before a page
  boundary, after a helper (anything that may change mode or touch devices),
  before a breakpoint address, or at ``max_insns``.
* Tiers: a block runs on the interpreter (up to its control transfer, in
  one call) until it has been looked up ``hot_threshold`` times; then it
  and the blocks it jumps to in its page that have run are translated as
  one *region* (:class:`emu.ir.codegen.RegionCodegen`): a loop nest in one
  function, entered at its dispatch points.  A block the region left out
  because it had not run yet makes the region be translated again once it
  is hot; the return sites of the region's calls are in it, so a RET stays
  inside.  ``-d in_asm`` logs what is translated, when it is; ``-d exec``
  also logs each cold stretch the interpreter runs (``Interp:``).
* ``cpu_exec`` runs blocks.  A direct exit follows the successor stored in
  the block (``tb.jmp[slot]``, QEMU's ``jmp_dest``): a chain hit, no
  dictionary lookup; an indirect exit checks where it went last time (a
  jump cache).  Chaining is only within a page; ``-d nochain`` turns it
  off.  A block that jumps to its own start loops inside its function.  A
  *sync* exit (IR ``exit_sync``: x86's real-mode far transfers, INT n and
  IRET, and a write that may set IF or TF -- STI, POPF) goes back to the
  loop's top, where pending interrupts are looked at, and its jump cache
  is keyed by (code base, IP): the next block is never picked by IP alone.
* REP MOVS/STOS/LODS over plain RAM run whole, and REPE/REPNE CMPS/SCAS
  up to the comparison that ends them, each iteration still counting as
  one instruction: in the translated block itself without paging (the IR's
  ``call_bail``, ``budget`` and ``retire``), else -- and where the block
  declines one -- by the x86 front end's ``fast_path``
  (:mod:`emu.isa.x86.string_fast`) from the dispatcher.
* Single-stepping (``-one-insn-per-tb`` and the debugger) has a short way:
  while it is on, ``run`` is a closure (``_stepper``) that finds the
  one-instruction block by IP in a per-mode map and returns the step's
  DEBUG exit (made once per target) -- no dispatcher set-up.  A stepped
  instruction is translated once it has been stepped ``hot_threshold``
  times (the interpreter steps it until then), since translating one costs
  as much as a few hundred steps.  ``emu bench --step`` measures a step
  against unicorn with a per-instruction hook.
* Self-modifying code: RAM marks pages holding translated code; a guest
  store into one bails to the interpreter, whose write invalidates the page
  (``tb_invalidate_page`` drops its blocks and unlinks jumps into them).  The
  store that hits the running block's own page leaves that block at once.
  Code that keeps changing is interpreted, as QEMU stops trusting its TBs
  for a page its per-page write counting shows being written again and
  again: a page whose blocks have been invalidated ``SMC_DEMOTE_AFTER``
  times is *demoted* -- no block is translated from it (the interpreter,
  whose decode cache a store invalidates per granule, runs it) until its
  code has been looked up ``SMC_PROBATION`` times with no store into it
  (code written once, then run: translated again) or the code cache is
  flushed.  Retranslating after every store made an SMC loop run 30 times
  slower than on the interpreter.
* The interpreter (:class:`emu.accel.interp.Interpreter`, sharing its
  target's Core and its Ops) is the slow path: helpers, bails, port I/O, HLT,
  interrupts, breakpoints, an instruction-budget remainder smaller than the
  next block, IO restarts (IoPending) and fault delivery all go through its
  exact code, so exits and icount match ``-accel interp`` one for one.
* Paging (CR0.PG): blocks are keyed by linear address, with the privilege
  (supervisor/user) in the key, and record the physical pages they were
  decoded from (SMC invalidation goes by physical page); every TLB flush
  (MOV CR3, INVLPG, a paging-mode change) drops them.  Their loads and
  stores look the linear page up in the paging translator's own TLB and
  bail to the interpreter on a miss, a right the entry does not grant, a
  page crossing or MMIO -- so walks, A/D bits and #PF stay the
  interpreter's.
* Deliberate gaps: x86 64-bit stack operations are helpers; Arm Thumb state
  is not translated (each T16 instruction is a helper).

The engine is split along QEMU's seams:

* :mod:`.dispatch` -- :class:`Translator` and its run loop, chaining and
  exits (QEMU's ``cpu_exec``, ``tb_add_jump``, ``tb_jmp_cache``), the
  single-step short way, and :func:`translate_at`;
* :mod:`.tb_cache` -- :class:`TranslationBlock`, the block cache, its page
  lists, invalidation and SMC demotion (QEMU's ``tb_htable``,
  ``tb_invalidate_phys_page_range``, ``tb_flush``);
* :mod:`.translate` -- one block decoded, built, optimised and compiled
  (QEMU's ``tb_gen_code`` / ``translator_loop``);
* :mod:`.regions` -- heat counting and regions of hot blocks (the second
  tier);
* the x86 fast paths are the x86 front end's (:mod:`emu.isa.x86.string_fast`).
"""

from .dispatch import Translator, translate_at
from .regions import HOT_THRESHOLD, MAX_REGION_BLOCKS, MAX_REGION_GROWTH
from .tb_cache import SMC_DEMOTE_AFTER, SMC_PROBATION, TranslationBlock
from .translate import LOG_FLAGS, MAX_INSNS

__all__ = ["Translator", "TranslationBlock", "translate_at", "HOT_THRESHOLD", "MAX_INSNS",
           "MAX_REGION_BLOCKS", "MAX_REGION_GROWTH", "SMC_DEMOTE_AFTER", "SMC_PROBATION", "LOG_FLAGS"]
