"""Block translation for ``-accel tcg``: QEMU's ``tb_gen_code`` and
``translator_loop``.

A block is decoded from the fetch address until a branch, a page boundary, a
helper (anything that may change mode or touch devices), a breakpoint
address or ``max_insns``; each instruction's semantic function runs on the
target front end's IR builder (``Target.ir_frontend``), the IR is optimised
(:mod:`emu.ir.optimize`) and compiled to one Python function
(:func:`emu.ir.codegen.generate`) -- Python is the host ISA.  ``-d in_asm``,
``op``, ``op_opt`` and ``out_asm`` log each stage, as QEMU's ``-d`` does.

This is one part of :class:`emu.accel.tcg.Translator`; regions of several
blocks are :mod:`emu.accel.tcg.regions`' work, built from the same
``_build``.
"""

from __future__ import annotations

import time

from ...ir.codegen import HELPER, TbExit, generate
from ...ir.ir import IRBlock
from ...ir.optimize import dce, dead_regs, optimize, propagate, reuse_loads, sink_selects, strip_masks
from ...isa.ops import GuestException, IoPending, Unsupported
from .tb_cache import TranslationBlock

MAX_INSNS = 64
LOG_FLAGS = ("in_asm", "op", "op_opt", "out_asm", "exec", "nochain")


def decode_quietly(core, lin: int, ip: int):
    """The instruction at linear address ``lin`` (IP ``ip``), from the decode
    cache or decoded now -- or None when it cannot be decoded; the fetch's
    I/O state is put back, so the interpreter meets the fault itself."""
    insn = core.cache.get(lin)
    if insn is None or insn.ip != ip:
        ops = core.ops
        saved = ops.io_pos
        try:
            insn = core.decode_at(lin, ip)
        except (GuestException, IoPending, Unsupported):
            ops.pending_read = None
            ops.io_pos = saved
            return None
    return insn


def helper_only(block) -> bool:
    """The block is just its first instruction, called as a helper."""
    return len(block.ops) == 2 and block.ops[1].name == "call_helper"


def helper_first(left):
    """The function of every block that is one helper call: retire nothing and
    leave by exit 0, the helper (the dispatcher runs the instruction)."""
    return 0


def helper_first_exits() -> tuple:
    """The exits of a TB that is one helper: a tuple of its own (an exit
    keeps the jump cache of where it led, ``TbExit.seen``)."""
    return (TbExit(HELPER, None, None, 0),)


class BlockTranslator:
    """Decoding, building, optimising and compiling one block (a part of the
    Translator: these methods read ``self.core``, ``self.frontend``,
    ``self.machine`` and install what they make in the block cache)."""

    def _mem_model(self, key):
        return self.frontend.mem_model(self.core, key)

    def _log_flags(self):
        m = self.machine
        if m.log is None:
            return ()
        return m.log_flags

    def _build(self, ip: int, key, region: bool = False, keep_op: bool = False):
        """Decode the block at CS:ip and build its optimised IR.  Returns
        (block, pages, fallbacks, op_text) or None when not even its first
        instruction can be decoded (the interpreter then raises the fault).
        ``op_text`` (the IR before optimisation) is kept for ``-d op`` or
        when ``keep_op`` asks for it."""
        flags = self._log_flags()
        reuse = region and not flags and not keep_op
        if reuse:
            hit = self._built_before(key)
            if hit is not None:
                return (*hit, None)
        core = self.core
        ops = core.ops
        base = core.fetch_base
        amask = ops.amask
        pc = base + ip
        block = IRBlock(pc, ip)
        b = self.frontend.builder(block, key)
        max_insns = key[-1]
        page = (pc & amask) >> 12
        pages = set()
        bps = self.breakpoints
        cur = ip
        fallbacks = []
        while True:
            lin = base + cur
            if block.insns and (len(block.insns) >= max_insns or ((lin & amask) >> 12) != page
                                or (bps and lin in bps)):
                b.end_block(cur)
                break
            insn = decode_quietly(core, lin, cur)
            if insn is None:
                if not block.insns:
                    return None
                b.end_block(cur)
                break
            try:
                pages.add(self._phys_page(lin))
                pages.add(self._phys_page(lin + insn.length - 1))
            except GuestException:          # (not after a decode: its fetch walked)
                if not block.insns:
                    return None
                b.end_block(cur)
                break
            block.insns.append(insn)
            inlined = b.translate_insn(len(block.insns) - 1, insn)
            if not inlined and not self.frontend.deliberate_helper(insn):
                fallbacks.append((insn, b.fallback_reason))
            if b.ended:
                break
            cur = insn.next_ip
        self.counters["inline_fallbacks"] += len(fallbacks)
        op_text = block.dump() if flags or keep_op else None
        block.loop = (max_insns > 1 and "nochain" not in flags and any(
            o.name in ("brcond", "goto_tb") and o.aux[1] == ip for o in block.ops))
        if region:                  # flag liveness waits for the region's shape
            propagate(block)
            reuse_loads(block)
            dead_regs(block)
            dce(block)
            if strip_masks(block) + sink_selects(block):
                dce(block)
            block.page = page
            self.counters["region_ir_builds"] += 1
            if reuse:
                self._keep_built(key, block, pages, fallbacks)
        else:
            optimize(block)
        block.page = page
        return block, pages, fallbacks, op_text

    def _log_block(self, block, fallbacks, op_text, src, texts):
        base = self.core.fetch_base
        in_asm = "".join(f"0x{base + i.ip:08x}:  {i!r}\n" for i in block.insns)
        for insn, why in fallbacks:
            in_asm += f"  ; {insn!r}: not inlined ({why}); called as a helper\n"
        txt = {"in_asm": in_asm, "op": op_text, "op_opt": block.dump(), "out_asm": src}
        if texts is not None:
            texts.update(txt)
        log = self.machine.log
        flags = self._log_flags()
        if log is not None:
            if "in_asm" in flags:
                log.write(f"----------------\nIN:\n{txt['in_asm']}\n")
            if "op" in flags and op_text is not None:
                log.write(f"OP:\n{txt['op']}\n")
            if "op_opt" in flags:
                log.write(f"OP after optimization and liveness analysis:\n{txt['op_opt']}\n")
            if "out_asm" in flags and src is not None:
                log.write(f"OUT: [size={len(src)}]\n{src}\n")

    def tb_gen_code(self, ip: int, key, cap: int, texts: dict | None = None):
        """Translate the block at CS:ip.  Returns None when not even its first
        instruction can be decoded (the interpreter then raises the fault)."""
        t0 = time.perf_counter()
        built = self._build(ip, key, keep_op=texts is not None)
        if built is None:
            return None
        block, pages, fallbacks, op_text = built
        tb = TranslationBlock(block.pc, ip, key)
        if texts is None and helper_only(block):
            src = None
            tb.fn, tb.exits = helper_first, helper_first_exits()
        else:
            name = f"tb_{block.pc:x}"
            src, exits = generate(block, self.core.ops.amask, self.machine.ram.size, block.loop, name,
                                  self._mem_model(key), self.checked_at(key))
            ns = dict(self.ns_base)
            exec(compile(src, f"<tb 0x{block.pc:x}>", "exec"), ns)
            tb.fn = ns[name]
            tb.exits = exits
        tb.jmp = [None, None]
        tb.icount = len(block.insns)
        tb.insns = block.insns
        tb.loop = block.loop
        self._install(tb, key, pages, block.page)
        self.counters["blocks_translated"] += 1
        self.counters["translate_seconds"] += time.perf_counter() - t0
        if texts is not None or self._log_flags():
            self._log_block(block, fallbacks, op_text, src, texts)
        return tb
