"""The unicorn engine: QEMU's TCG, in C, as the yardstick and second opinion.

This is the generic runner; what depends on the guest architecture (engine
modes, register sync, port I/O, interrupt delivery, the instructions kasou
runs itself) is asked of the Target's adapter (the contract and its
meaning: :mod:`emu.isa.unicorn_adapter`; x86's:
:mod:`emu.isa.x86.unicorn_adapter`).  What is modelled here, and how it
maps onto unicorn 2 (``unicorn`` on PyPI):

* **Memory.**  Guest RAM is the Machine's own anonymous mapping, handed to
  unicorn with ``mem_map_ptr`` (nothing is copied; both see every write).
  Everything above RAM up to 4 GiB is one ``mmio_map`` region whose
  callbacks turn each access into an MMIO exit; so is everything above 4 GiB
  (and above RAM) to the end of the physical address space (the adapter's
  ``phys_end``), mapped once when the engine is made: a guest sweeping high
  addresses adds no region (one region per chunk touched made each new
  mapping and TLB fill slower, quadratically).  Below RAM (the Arm
  ``virt`` board's devices, RAM at 1 GiB) is one more such region.
  Unicorn cannot execute from MMIO regions: code outside RAM is run one
  instruction at a time on kasou's semantics (the adapter's ``serve``),
  which fetch it from the bus (unassigned memory reads all ones).
* **I/O exits.**  Unicorn's hooks are synchronous -- a load or an IN needs
  its value before the hook returns -- so the hook builds the ``MmioExit``
  (or, from the adapter's port hooks, the ``IoExit``) and hands it to
  :meth:`Machine.dispatch_exit`, the very method the run loop uses for
  every other engine: the exit is counted and served once, in one place, and
  the exit counts of ``interp`` and ``unicorn`` agree.  A port access whose
  device takes it quietly (the Machine's quiet servers, one lookup and
  one call: ``Machine.quiet_port_reads`` and ``quiet_port_writes``, as the
  translator's port helper: no ``-d exits`` or exit observer, a device that
  reads no guest time and neither raises its interrupt line nor asks to
  stop -- a polled UART) is served and counted there without building the
  exit, finding unicorn's PC or looking at timers; the polled-UART bench
  guests ran 4x (real mode) and 7x (protected mode: the I/O permission
  check's registers are read in one batch) faster so.  An MMIO access a
  device takes quietly (``Machine.quiet_mmio_reads``/``writes``: the PL011 while its
  interrupts are masked) is served so too; only its instruction's
  address is read, for ``abandoned`` (below).  If a device asks to
  stop (isa-debug-exit), the hook stops unicorn after this instruction and
  ``run()`` returns the exit, marked ``dispatched``, so the loop ends the run
  with the device's status.  Stopped inside an access, unicorn's ARM CPU
  abandons the instruction (registers as before it, the access made): the
  engine hands the adapter the instruction and the exits it had made
  (``abandoned``) so that it completes the instruction rather than repeat
  the access.  In a free run the PC a hook reads is that of some earlier
  block, so the engine names no instruction there and keeps the last
  ``ACCESSES_KEPT`` accesses: the adapter finds the instruction's among
  them.
* **Instruction counting.**  ``emu_start(count=N)`` stops exactly after N
  instructions (unicorn counts in C, with a check before every instruction,
  which also makes ``emu_stop()`` from a hook take effect at the next
  instruction rather than at the end of the block).  ``icount`` is kept
  exactly by a block hook that adds each translated block's instruction
  count (decoded once per block by the adapter) as the block is entered,
  corrected by how far the last block got when unicorn stopped.  Measured on
  a tight real-mode loop (this host): no hooks ~600 MIPS, ``count=`` ~48
  MIPS, ``count=`` plus the Python block hook ~6 MIPS (~4 MIPS through the
  Machine, against ~0.6 for ``interp``); exact counts need the block hook,
  so that is what runs.  A block entry the adapter says is no instruction
  (x86: the entry that finds a REP's count zero) is not counted.
* **Free runs** (``-accel unicorn,count=free``; ``emu bench`` runs its
  ``unicorn`` so): as QEMU runs without ``-icount``, unicorn runs with
  ``count=0`` and without the block hook, so only the hooks the devices
  need (port I/O, MMIO, interrupts) call Python.  Instructions are not
  counted: ``exact_icount`` is False, the guest clock is real time and
  ``icount`` grows by an ESTIMATE, seconds inside ``emu_start`` times
  ``assumed_ips``, as on KVM.  Exact counting is used whenever a feature
  needs it: ``-icount-limit`` (``count_exactly``), breakpoints, single
  steps, code hooks, an interrupt line up, and a timer's budget while the
  guest takes interrupts (EFLAGS.IF).  With interrupts masked a timer's
  budget becomes a wall-clock slice of ``budget / assumed_ips`` seconds (at
  least ``min_slice``) that ends at the first device access after it --
  a port access, or an MMIO access where the adapter completes an
  instruction unicorn abandons inside one (``COMPLETES_ABANDONED``; x86's
  does not: stopped there, its CPU ran the store again, a second MMIO
  exit, and with slices shorter than the hook's own cost never got past
  it); likewise an interrupt line noticed late;
  unicorn is never stopped from another thread (stopped so, its QEMU ran
  part of a block with an I/O instruction twice: a read-modify-write of RAM
  after an OUT was counted twice).  So a guest that enables interrupts
  inside a free run has its timer interrupts looked at from its next device
  access or HLT on.  In a free run unicorn stops at the end of a block, not
  after the instruction whose hook asked (QEMU's TCG without icount also
  looks for exit requests between blocks): after isa-debug-exit the rest of
  its block runs, and the engine mode is checked (and changed) when unicorn
  stops.  An exception or INT n is delivered once unicorn has stopped, in
  the engine of the guest's mode; whether it was a fault or a trap is asked
  of the adapter (``trap_before``), as HLT is (``halted_before``).  An
  adapter that cannot answer (``FREE_RUN`` False) always counts.  An I/O
  access that x86's I/O permission bitmap denies is made #GP(0) at the
  access, but in a free run the rest of its block has run by then: guests
  that rely on that fault should count.  A free run returns to Python only
  at a device access, an interrupt or HLT, so a stop request (Ctrl-C, the
  monitor's ``stop``) reaches a guest that spins without any of them only
  then.
* **Engine modes.**  Unicorn's register API is that of the mode an engine
  was opened in.  After a block the adapter marks ``MAY_SWITCH``, entering
  the next block the runner asks the adapter which mode unicorn's CPU now
  needs and, if it is another, stops before the block and carries the
  whole CPU over to a new engine of that mode with ``context_save`` /
  ``context_restore`` (QEMU's CPU state has the same layout whatever the
  engine's mode; RAM is shared).
* **HLT** (the adapter's ``is_halt``) ends ``emu_start`` without error
  (unicorn's QEMU returns on ``EXCP_HLT``); ``run()`` recognises it by the
  last instruction of the block that ended the run and reports ``HltExit``.
* **Interrupts and exceptions.**  Unicorn never delivers them itself; it
  calls ``UC_HOOK_INTR``, which the adapter serves with kasou's own code.
  External interrupts (the interrupt controller's line) are taken at the
  start of ``run()`` and after an access that raised the line; while the
  line is up and interrupts are masked, unicorn runs one instruction at a
  time so that unmasking is noticed at once.
* **Single step** is ``count=1``; **breakpoints** are ``UC_HOOK_CODE`` hooks
  on those addresses only (the hook stops before the instruction runs).
  Unicorn picks the instructions that call code hooks when it translates a
  block, so arming a breakpoint drops the translated code
  (:meth:`_sync_breakpoints`).

Deliberate deviations and known limits (unicorn cannot do better):

* ``emu_start`` runs with exit addresses enabled and none set: given an
  ``until`` address, unicorn drops the translated block at until - 1 on
  every start, translating it through the guest's page tables, and the
  failed walk left CR2 = until - 1.
* Writes to RAM made outside unicorn (loaders, the debugger, interrupt
  delivery) reach unicorn's memory at once but not its translation cache:
  :meth:`flush_code_cache` (and a range flush after interrupt delivery)
  drops the stale blocks.  A block re-translated after self-modifying code
  with the same address and size keeps its cached instruction count.
"""

from __future__ import annotations

import time

import unicorn as uc_mod

from .base import Accelerator, AccelUnavailable
from ..exits import BudgetExit, DebugExit, HltExit, InternalErrorExit, IoExit, MmioExit, mark_source
from ..isa.unicorn_adapter import AFTER, BEFORE, FRESH, MAY_SWITCH, RECREATE, AdapterUnavailable

FOREVER = 1 << 62
COUNT_MODES = ("exact", "free")
MMIO_LOW_END = 1 << 32          # RAM end .. 4 GiB is one MMIO region
UNTIL = 0xFFFFFFFFFFFFFFFF      # emu_start's "until": never reached
#: MMIO accesses a free run keeps for ``abandoned``: at least the most one
#: instruction makes (an A32 LDM or STM of all sixteen registers)
ACCESSES_KEPT = 16


class UnicornAccel(Accelerator):
    """Run the guest on unicorn; exits, icount and state as every engine has them."""

    name = "unicorn"
    #: free runs: the speed a timer's budget and the icount estimate assume
    assumed_ips = 100_000_000
    #: free runs: the shortest wall-clock slice a budget becomes (seconds)
    min_slice = 0.001

    def __init__(self, machine):
        super().__init__(machine)
        try:
            self.adapter = machine.target.unicorn_adapter(self)
        except NotImplementedError:
            raise AccelUnavailable(f"the unicorn engine has no adapter for {machine.target.name} "
                                   "guests") from None
        except AdapterUnavailable as e:
            raise AccelUnavailable(str(e)) from None
        self.pc = self.adapter.pc    # linear address of unicorn's next instruction
        self.irq_line = False        # the interrupt controller's INTR output
        self.irq_ack = None          # callable returning the vector (INTA cycle)
        self.queued = []             # exits to return on the next run() calls
        self.uc = None
        self.uc_mode = None
        self._load_pending = True    # machine.cpu must be put into unicorn before running
        self._uc_ahead = False       # unicorn's state is newer than machine.cpu
        self._bp_hooks = {}          # linear address -> hook handle
        self._code_hooks = []        # add_code_hook's functions
        self._resume_bp = None
        self._skip_bp = None
        self._block_cache = {}       # (addr, size) -> (linear addresses of its instructions, marks,
                                     # the code bytes they were decoded from)
        count = getattr(machine, "accel_options", {}).get("count", "exact")   # (stand-in machines have none)
        if count not in COUNT_MODES:
            raise ValueError(f"-accel unicorn,count={count}: expected count={'|'.join(COUNT_MODES)}")
        #: free runs where nothing needs exact counts (see the module docstring)
        self.free = count == "free" and self.adapter.FREE_RUN
        self.exact_icount = not self.free
        self._exact_wanted = False   # count_exactly() asked for an exact run
        self._counting = True        # the block hook is in place
        self._block_hook = None
        self._free_running = False   # inside a free emu_start
        self._free_intr = None       # (intno, pc) an interrupt hook left for after a free run
        self._sliced = False         # a free run's slice ended at an access
        self._slice_end = None       # perf_counter() when a free run's slice ends
        self.free_runs = 0
        #: perf_counter() when unicorn first ran the guest (the first
        #: emu_start), None before: ``emu bench`` times the engine from there,
        #: as it times bare unicorn, without the engine's start-up
        self.started = None
        self.quiet_ports = 0         # port accesses the Machine served quietly (_quiet_served)
        #: address -> serve(size, value): the accesses a device takes
        #: quietly, served by the Machine without an exit object
        #: (Machine._quiet_server; stand-in machines have none)
        self._mmio_reads = getattr(machine, "quiet_mmio_reads", None)
        self._mmio_writes = getattr(machine, "quiet_mmio_writes", None)
        self._port_reads = getattr(machine, "quiet_port_reads", None)      # (likewise)
        self._port_writes = getattr(machine, "quiet_port_writes", None)
        self.quiet_mmio = 0          # MMIO accesses served so
        self._mm = machine.ram.mm    # (RAM from address 0, as unicorn maps it: ram.base)
        self._mm_base = machine.ram.base
        self.blocks = 0
        self._run_done = 0           # instructions of this run() not yet in icount
        self._hook_icount = None     # exact icount while an I/O hook is served
        self._accesses = (None, [])  # ((address, icount) of an instruction, its MMIO accesses: (address, is_write, value))
        self._watch_engine = False   # a MAY_SWITCH block was entered: check before the next one
        self._marked = False         # a block with the adapter's marks was entered
        self._reset_run()

    # -- engine construction (the adapter calls create and unmap_ram too) ---------------------
    def create(self, mode: int) -> None:
        """A new running engine of ``mode`` (the old one is closed), RAM and
        MMIO mapped, every hook in place."""
        if self.uc is not None:
            self._close_uc()
        ram = self.machine.ram
        adapter = self.adapter
        uc = uc_mod.Uc(adapter.uc_arch, mode)
        adapter.configure(uc)
        # no exit address: emu_start's "until" is ignored.  Unicorn drops the
        # translated block holding until - 1 at every start, translating that
        # address through the guest's page tables, and the failed walk left
        # CR2 = until - 1 once paging was on
        uc.ctl_exits_enabled(True)
        uc.ctl_set_exits([])
        # ABI: unicorn maps the host pages of our anonymous mmap; ``ram.mm``
        # outlives ``uc`` (the Machine owns both; close() drops uc first).
        uc.mem_map_ptr(ram.base, ram.size, uc_mod.UC_PROT_ALL, ram.host_address())
        end = ram.base + ram.size
        low_end = min(MMIO_LOW_END, adapter.phys_end)
        if end < low_end:
            uc.mmio_map(end, low_end - end, self._mmio_read, None, self._mmio_write, None)
        if ram.base > 0:
            # below RAM (Arm virt: the devices): offsets are addresses here
            uc.mmio_map(0, ram.base, lambda u, off, sz, d: self._mmio_high_read(off, sz), None,
                        lambda u, off, sz, v, d: self._mmio_high_write(off, sz, v), None)
        # above 4 GiB (and RAM): one region to the end of the physical address
        # space, mapped once -- one region per chunk touched would grow
        # unicorn's region list (searched at every new mapping and TLB fill)
        # with every MiB a guest sweeps
        high = max(end, low_end)
        if high < adapter.phys_end:
            uc.mmio_map(high, adapter.phys_end - high,
                        lambda u, off, sz, d: self._mmio_high_read(high + off, sz), None,
                        lambda u, off, sz, v, d: self._mmio_high_write(high + off, sz, v), None)
        self._block_hook = uc.hook_add(uc_mod.UC_HOOK_BLOCK, self._hook_block) if self._counting else None
        uc.hook_add(uc_mod.UC_HOOK_INTR, self._hook_intr)
        for fn in self._code_hooks:
            uc.hook_add(uc_mod.UC_HOOK_CODE, fn)
        self.uc = uc
        self.uc_mode = mode
        self._bp_hooks = {}
        self._block_cache = {}
        self._watch_engine = self._marked = False
        adapter.engine_created(uc, mode)
        self._sync_breakpoints()

    def _switch_engine(self, mode: int) -> None:
        """The guest changed mode inside unicorn: carry the whole CPU over to
        an engine of the new kind, exactly (QEMU's CPU state is the same
        structure whatever the engine's register API)."""
        ctx = self.uc.context_save()
        self.create(mode)
        self.uc.context_restore(ctx)

    def _close_uc(self) -> None:
        uc, self.uc = self.uc, None
        if uc is not None:
            self.unmap_ram(uc)

    def unmap_ram(self, uc) -> None:
        """Take the Machine's RAM out of ``uc`` (before it is dropped)."""
        try:
            self.adapter.before_unmap(uc)
            uc.mem_unmap(self.machine.ram.base, self.machine.ram.size)
        except uc_mod.UcError:
            pass

    def close(self) -> None:
        self._close_uc()
        self.adapter.close()

    # -- state -----------------------------------------------------------------------------
    def put_state(self, fresh: bool = False) -> None:
        """machine.cpu -> unicorn (see the adapter's put_state)."""
        self.adapter.put_state(fresh)
        self._load_pending = False

    def get_state(self) -> None:
        """unicorn -> machine.cpu."""
        self.adapter.get_state()

    # -- the Accelerator contract ------------------------------------------------------------
    def state_changed(self) -> None:
        # machine.cpu is authoritative now (callers sync_state() before editing it)
        self._load_pending = True
        self._uc_ahead = False

    def sync_state(self) -> None:
        if self._uc_ahead:
            self.get_state()
            self._uc_ahead = False

    def take_queued_exit(self):
        return self.queued.pop(0) if self.queued else None

    def flush_code_cache(self) -> None:
        self._block_cache.clear()
        if self.uc is not None:
            self.uc.ctl_flush_tb()

    def add_code_hook(self, fn) -> None:
        """``fn(uc, address, size, user_data)`` -- unicorn's own signature,
        called by unicorn with nothing in between -- before every instruction
        (``UC_HOOK_CODE``: how unicorn's users watch each instruction; ``emu
        bench --step`` measures it).  Code translated before is dropped, so
        every instruction calls it; the hook follows the CPU to a new engine."""
        self._code_hooks.append(fn)
        if self.uc is not None:
            self.uc.hook_add(uc_mod.UC_HOOK_CODE, fn)
            self.uc.ctl_flush_tb()

    def count_exactly(self, limit):
        if self.free:
            self._exact_wanted = limit is not None
        return True

    def _set_counting(self, on: bool) -> None:
        """Put the block hook in or take it out.  Unicorn decides when it
        translates a block whether the block calls the block hooks, so the
        translated code is dropped either way."""
        if on == self._counting:
            return
        self._counting = on
        if on:
            self._block_hook = self.uc.hook_add(uc_mod.UC_HOOK_BLOCK, self._hook_block)
        else:
            self.uc.hook_del(self._block_hook)
            self._block_hook = None
        self._tb = ()
        self.uc.ctl_flush_tb()

    def stats(self) -> dict:
        return {"count": "free" if self.free else "exact", "free runs": self.free_runs,
                "quiet port accesses": self.quiet_ports, "quiet MMIO accesses": self.quiet_mmio,
                "blocks entered": self.blocks, "blocks decoded": len(self._block_cache),
                **self.adapter.stats()}

    def icount_now(self) -> int:
        if self._hook_icount is not None:
            return self._hook_icount
        return self.icount + self._run_done

    def request_stop(self) -> None:
        """Flag the stop and stop unicorn (``emu_stop`` is safe from a hook,
        where a signal handler usually runs, and does nothing when unicorn
        is not running); the block hook stops before every later block while
        the flag is up, which covers a request made just before
        ``emu_start``."""
        super().request_stop()
        if self.uc is not None:
            self.uc.emu_stop()

    def run(self, budget):
        if self.queued:
            return self.queued.pop(0)
        s = self.machine.cpu
        adapter = self.adapter
        if self._load_pending:
            self.put_state()
        if s.halted:
            if self.irq_line and adapter.wakes(s):
                s.halted = False
            else:
                return HltExit()
        limit = FOREVER if budget is None else budget
        if self.single_step:
            limit = min(limit, 1)
        done = 0
        resume_bp, self._resume_bp = self._resume_bp, None
        self._sync_breakpoints()
        while True:
            if self._recreate:
                # machine.cpu holds the state (see _outcome)
                self._recreate = self._fresh_uc = False
                self.create(adapter.mode_for(s))
                self.put_state()
            if self._fresh_uc:
                # after a fault: a CPU that never faulted (see the adapter's interrupt)
                self._fresh_uc = False
                adapter.refresh()
            # external interrupts: taken between instructions, as the interpreter
            # does, except in an interrupt shadow (the adapter's irq_shadow) --
            # before an instruction runs: not after the last of the budget (a
            # single step), where the interpreter takes it at the next run()
            shadow = adapter.irq_shadow(s)
            if (self.irq_line and self.irq_ack is not None and not shadow and done < limit
                    and self._irq_enabled()):
                self._run_done = done
                ex = self._take_irq()
                self._run_done = 0
                if ex is not None:          # its delivery could not be completed
                    self.icount += done
                    return ex
            if done >= limit:
                self.icount += done
                return self._finish(BudgetExit("instructions"))
            if self.stop_requested:
                self.icount += done
                return BudgetExit("instructions")
            chunk = limit - done
            if self.irq_line and (shadow or not self._irq_enabled()):
                chunk = 1                 # notice unmasking at once; step over a shadow
            self._run_done = done
            try:
                if self._may_run_free(budget):
                    ex, n = self._run_free(budget)
                    if ex is None and budget is not None:
                        ex = BudgetExit("instructions")     # the slice is over
                else:
                    self._set_counting(True)
                    ex, n = self._run_chunk(chunk, resume_bp)
            finally:
                self._run_done = 0
            if n:
                adapter.retired(self._tb, self.pc())
            resume_bp = None
            done += n
            if ex is None:
                continue
            self.icount += done
            return self._finish(ex)

    def _finish(self, ex):
        """Single-step ends every run() in DEBUG, after the exit the step made
        (as the interpreter does: IO, then DEBUG on the next run())."""
        if not self.single_step:
            return ex
        if ex.reason == "BUDGET":
            return DebugExit("step", self.pc())
        if ex.reason in ("IO", "MMIO", "HLT"):
            self.queued.append(DebugExit("step", self.pc()))
        return ex

    # -- one emu_start ----------------------------------------------------------------------
    def _reset_run(self) -> None:
        self._counted = 0            # instructions of blocks known to be complete
        self._tb = ()                # linear addresses of the current block's instructions
        self._tb_end = 0             # the address after the current block
        self._store_stop = None      # (store's address, next instruction's) of an MMIO store
                                     # after which a device asked to stop
        self._stop = None            # (AFTER|BEFORE, linear address) if a hook stopped unicorn
        self._stop_exit = None       # the exit to return for that stop
        self._irq_stop = False
        self._fresh_uc = False       # make unicorn's CPU afresh before the next chunk
        self._recreate = False       # a new engine from machine.cpu (a mode change in a hook)
        self._extra_entry = False    # the last block entry was no instruction (adapter.extra_entry)
        self._engine_stop = False    # stopped before a block that needs another kind of engine
        self._serve_at = None        # linear address of an instruction kasou runs itself
        #: (address, MMIO exits served) of the instruction a hook stopped
        #: unicorn in, after those accesses (see _dispatch); None
        self.abandoned = None

    def _run_chunk(self, count: int, resume_bp):
        """Run at most ``count`` instructions; returns (exit or None, retired)."""
        uc = self.uc
        adapter = self.adapter
        self._reset_run()
        self._skip_bp = resume_bp if resume_bp is not None and resume_bp == self.pc() else None
        err = None
        self._uc_ahead = True
        if self.started is None:
            self.started = time.perf_counter()
        try:
            uc.emu_start(adapter.start_address(), UNTIL, 0, count)
        except uc_mod.UcError as e:
            err = e
        n = self._counted + self._partial(err)
        self._marked = False
        adapter.stopped()
        switched = self._check_engine()
        fault = adapter.settle(err, self._store_stop, self._extra_entry)
        if fault is not None:
            ex = self._outcome(adapter.deliver(fault[0], fault[1], True))
            return ex, n + 1 if ex is None else n       # a fault counts, as on the interpreter
        if err is not None:
            return self._error_exit(err, n)
        if self._stop_exit is not None:
            return self._stop_exit, n
        if self._serve_at is not None:
            return adapter.serve(self._serve_at), n
        if self._irq_stop or self._fresh_uc or self._recreate or switched:
            return None, n
        if self._tb and self.pc() not in self._tb and adapter.is_halt(self._last_insn_bytes()):
            self.machine.cpu.halted = True
            return HltExit(), n
        if self.stop_requested:
            return None, n          # run() returns BUDGET
        if not n and not self._extra_entry:
            # nothing retired, no hook stopped it: how unicorn's QEMU ends
            # emu_start after a triple fault (EXCP_HLT); running again would spin
            pc = self.pc()
            return InternalErrorExit("EMULATION", f"unicorn stopped at 0x{pc:x} without "
                                     "retiring an instruction (its QEMU does so after a "
                                     "triple fault)", pc=pc), n
        # unicorn's count ran out (it also counts an extra block entry, so n
        # may be short of count: run() asks for the rest)
        return None, n

    def _may_run_free(self, budget) -> bool:
        return (self.free and not self._exact_wanted and not self.single_step
                and not self.breakpoints and not self._code_hooks and not self.irq_line
                and (budget is None or not self._irq_enabled()))

    def _run_free(self, budget):
        """One free ``emu_start`` (see the module docstring): no block hook,
        no count, a wall-clock slice for a budget; returns (exit or None, 0)
        -- nothing is counted (``icount`` grows by the estimate)."""
        uc = self.uc
        adapter = self.adapter
        self._set_counting(False)
        self._reset_run()
        self._accesses = (None, [])
        self.free_runs += 1
        err = None
        self._uc_ahead = True
        self._free_running = True
        t0 = time.perf_counter()
        if self.started is None:
            self.started = t0
        self._slice_end = None if budget is None else t0 + max(self.min_slice, budget / self.assumed_ips)
        try:
            uc.emu_start(adapter.start_address(), UNTIL, 0, 0)
        except uc_mod.UcError as e:
            err = e
        finally:
            self._free_running = False
            self.icount += int((time.perf_counter() - t0) * self.assumed_ips)
        sliced, self._sliced = self._sliced, False
        adapter.stopped()
        self._engine_stop = True            # a block that changed the mode went unseen
        switched = self._check_engine()
        adapter.retired((), self.pc())      # it stopped at a block's end: no shadow open
        fault = adapter.settle(err, None, False)
        if fault is not None:
            return self._outcome(adapter.deliver(fault[0], fault[1], True)), 0
        if err is not None:
            return self._error_exit(err, 0)[0], 0
        intr, self._free_intr = self._free_intr, None
        if self._stop_exit is not None:
            return self._stop_exit, 0
        if intr is not None:
            intno, pc = intr
            trap_at = adapter.trap_before(pc, intno)
            out = self._outcome(adapter.interrupt(intno, pc, trap_at is None, trap_at))
            return out if out is not None else self._stop_exit, 0
        if self._serve_at is not None:
            return adapter.serve(self._serve_at), 0
        if self._irq_stop or self._fresh_uc or self._recreate or switched or self.stop_requested \
                or sliced:
            return None, 0
        pc = self.pc()
        if adapter.halted_before(pc):
            self.machine.cpu.halted = True
            return HltExit(), 0
        return InternalErrorExit("EMULATION", f"unicorn stopped at 0x{pc:x} with nothing to "
                                 "serve (its QEMU does so after a triple fault)", pc=pc), 0

    def _outcome(self, out):
        """What the adapter's delivery asks (emu.isa.unicorn_adapter):
        None, or the exit that ends the run."""
        if out is None:
            return None
        if out is RECREATE or out is FRESH:
            if out is RECREATE:
                self._recreate = True
            else:
                self._fresh_uc = True
            self.stop(AFTER, self.pc())
            return None
        return out

    def stop(self, kind: str, pc: int, ex=None) -> None:
        """Stop unicorn (AFTER or BEFORE the instruction at ``pc``); the
        run returns ``ex`` if given."""
        self._stop = (kind, pc)
        if ex is not None:
            self._stop_exit = ex
        self.uc.emu_stop()

    def serve_after(self, pc: int) -> None:
        """Stop after the instruction at ``pc`` (which unicorn steps over):
        kasou runs it (the adapter's serve)."""
        self._serve_at = pc
        self.stop(AFTER, pc)

    def _check_engine(self) -> bool:
        """After a block that may have changed the mode (or a stop before the
        next one): move to an engine of the right kind.  True if it moved."""
        if not (self._watch_engine or self._engine_stop):
            return False
        self._watch_engine = self._engine_stop = False
        mode = self.adapter.mode_needed()
        if mode == self.uc_mode:
            return False
        self._switch_engine(mode)
        return True

    def _partial(self, err) -> int:
        """Instructions of the current block that ran before unicorn stopped."""
        tb = self._tb
        if not tb:
            return 0
        if self._stop is not None:
            kind, addr = self._stop
            if addr in tb:
                return tb.index(addr) + (1 if kind == AFTER else 0)
            return len(tb)
        pc = self.pc()
        if pc in tb:
            return tb.index(pc)
        return len(tb)

    def _last_insn_bytes(self) -> bytes:
        last = self._tb[-1]
        try:
            return bytes(self.uc.mem_read(last, 16))
        except uc_mod.UcError:
            return b""

    def _error_exit(self, err, n):
        code = err.errno
        pc = self.pc()
        if code == uc_mod.UC_ERR_INSN_INVALID:
            ex = self._outcome(self.adapter.invalid_instruction(pc))
            return ex, n + 1 if ex is None else n
        if code in (uc_mod.UC_ERR_FETCH_PROT, uc_mod.UC_ERR_FETCH_UNMAPPED):
            # code outside RAM: unicorn cannot execute from its MMIO regions;
            # kasou runs the instruction, fetched from the bus (unassigned
            # memory reads all ones, as for data)
            ex = self.adapter.serve(pc)
            return ex, n + 1 if ex is None else n
        try:
            raw = bytes(self.uc.mem_read(pc, 15))
        except uc_mod.UcError:
            raw = b""
        return InternalErrorExit("EMULATION", f"unicorn: {err} at 0x{pc:x}", pc=pc, insn_bytes=raw), n

    # -- hooks ----------------------------------------------------------------------------
    def _hook_block(self, uc, addr, size, _ud):
        prev = self._tb
        ran = len(prev)
        if prev and prev[0] <= addr < prev[-1] and addr in prev:
            k = prev.index(addr)
            if addr + size == prev[k + 1]:
                # a one-instruction block at an instruction inside the last block
                # (not its last one, which did not end that block): the last
                # block stored into its own code, and QEMU abandoned it before
                # the store (precise SMC) to run the store again in a block of
                # its own -- only the instructions before addr ran
                ran = k
        self._counted += ran
        self.blocks += 1
        self._extra_entry = False
        adapter = self.adapter
        if self._marked:
            self._marked = False
            adapter.marked_block_left()
        if self.stop_requested:
            self._tb = ()
            self._stop = (BEFORE, addr)
            uc.emu_stop()
            return
        if self._watch_engine:
            # the last block could have switched mode (real -> protected ->
            # long): stop before this one if it needs another kind of engine
            self._watch_engine = False
            if adapter.mode_needed() != self.uc_mode:
                self._tb = ()
                self._engine_stop = True
                self._stop = (BEFORE, addr)
                uc.emu_stop()
                return
        if prev and prev[-1] == addr and adapter.extra_entry(uc, addr, size):
            self._tb = ()
            self._extra_entry = True
            return
        entry = self._block_cache.get((addr, size))
        at = addr - self._mm_base
        if entry is None or entry[2] != self._mm[at:at + size]:
            # (new, or code rewritten since: the same address and size can hold
            # other instructions -- two bytes of MOV AL, imm8 patched to NOPs)
            tb, marks = adapter.decode_block(uc, addr, size)
            entry = self._block_cache[(addr, size)] = (tb, marks, self._mm[at:at + size])
        self._tb, marks, _ = entry
        self._tb_end = addr + size
        if marks:
            if marks & MAY_SWITCH:
                self._watch_engine = True
            if marks & ~MAY_SWITCH:
                self._marked = True
                adapter.block_marks(marks)

    def port_read(self, port: int, size: int) -> int:
        """An IN of ``size`` bytes from ``port``, served now; its value."""
        v = self._port_reads[port](size, 0)
        if v >= 0:
            self._quiet_served()
            return v
        ex = IoExit(port, size, False)
        self._dispatch(ex)
        return ex.data

    def port_write(self, port: int, size: int, value: int) -> None:
        """An OUT of ``value`` (``size`` bytes) to ``port``, served now."""
        if self._port_writes[port](size, value) >= 0:
            self._quiet_served()
            return
        self._dispatch(IoExit(port, size, True, value))

    def _quiet_served(self) -> None:
        """A port access the Machine served quietly (its quiet servers:
        counted as an IO exit, its device reads no guest time, raises no
        interrupt, asks no stop and moves no timer): nothing of
        :meth:`_dispatch`'s work is left but a free run's slice, which ends
        at a device access."""
        self.quiet_ports += 1
        if self._slice_over():
            self._sliced = True
            self.stop(AFTER, self.pc())

    def _mmio_read(self, uc, offset, size, _ud):
        return self._mmio_high_read(self._mmio_base(offset), size)

    def _mmio_write(self, uc, offset, size, value, _ud):
        self._mmio_high_write(self._mmio_base(offset), size, value)

    def _mmio_base(self, offset: int) -> int:
        # unicorn passes the offset into the region; the low region starts at RAM's end
        return self.machine.ram.base + self.machine.ram.size + offset

    def _mmio_high_read(self, addr, size):
        if self._mmio_reads is not None and not self._slice_over():
            v = self._mmio_reads[addr](size, 0)
            if v >= 0:
                self.quiet_mmio += 1
                self._note_access(None, addr, False, v)
                return v
        ex = MmioExit(addr, size, False)
        self._dispatch(ex)
        return ex.data

    def _mmio_high_write(self, addr, size, value):
        if self._mmio_writes is not None and not self._slice_over():
            if self._mmio_writes[addr](size, value) >= 0:
                self.quiet_mmio += 1
                self._note_access(None, addr, True, value)
                return
        self._dispatch(MmioExit(addr, size, True, value))

    def _slice_over(self) -> bool:
        """A free run's slice is over: the next device access ends it."""
        return self._free_running and self._slice_end is not None and self._stop is None \
            and time.perf_counter() >= self._slice_end

    def serve_exit(self, ex):
        """Serve ``ex`` (an MMIO or SEMIHOSTING exit an adapter's hook or
        its own run of an instruction makes) now, through the Machine; it
        is returned with its value."""
        self._dispatch(ex)
        return ex

    def _dispatch(self, ex) -> None:
        """Serve an exit now (unicorn waits for the value) via the Machine."""
        m = self.machine
        # the guest clock (a PIT read or reprogrammed now) counts this access as
        # the interpreter does: an OUT or a store has retired, an IN or a load not
        tb = self._tb
        pc, before = self._where()
        access = ex.reason in ("IO", "MMIO")
        self._hook_icount = before + (1 if access and ex.is_write else 0)
        mmio = ex.reason == "MMIO"
        if m.exit_pcs:      # unicorn's PC is the accessing instruction's in its hooks
            mark_source((ex,), pc, self.adapter.exit_cs())
        try:
            m.dispatch_exit(ex)
        finally:
            self._hook_icount = None
        if mmio:
            self._note_access((pc, before), ex.addr, ex.is_write, ex.data)
        if m.stop_pending():
            ex.dispatched = True
            if ex.reason == "MMIO" and ex.is_write and pc in tb:
                k = tb.index(pc)
                self._store_stop = (pc, tb[k + 1] if k + 1 < len(tb) else self._tb_end)
            self.stop(AFTER, pc, ex)
        elif mmio and not self.adapter.COMPLETES_ABANDONED:
            # the stops below are the engine's own: where unicorn would run the
            # instruction again, repeating this access, they wait for a port
            # access (or the run's end)
            return
        elif not self._own_stop(pc):
            return
        if mmio:
            # stopped inside an access: unicorn may abandon the instruction
            # here (its ARM CPU does), so the adapter knows what was served.
            # A free run cannot tell which instruction made the accesses (the
            # PC unicorn shows a hook is that of some earlier block): the one
            # unicorn stops on, among the last accesses kept
            self.abandoned = (None if self._free_running else pc, list(self._accesses[1]))

    def _own_stop(self, pc: int) -> bool:
        """After an access (by the instruction at ``pc``) served in a hook:
        stop unicorn if an interrupt line is up that the CPU takes, the free
        run's slice is over or a timer was reprogrammed.  True if it did."""
        if self.irq_line and self._stop is None and self.adapter.irq_enabled(None):
            self._irq_stop = True
            self.stop(AFTER, self.pc())
        elif self._slice_over():
            self._sliced = True             # the slice is over: end it at this access
            self.stop(AFTER, pc)
        elif self._stop is None and self.machine.timer_deadline_moved():
            # the guest reprogrammed a timer: end the run after this instruction
            # so that the Machine budgets the next one to the new deadline
            ex = BudgetExit("instructions")
            ex.dispatched = True        # not counted: interp has no such exit
            self.stop(AFTER, self.pc(), ex)
        else:
            return False
        return True

    def _note_access(self, at, addr: int, is_write: bool, data: int) -> None:
        """Keep the MMIO accesses of the instruction ``at`` (its address
        and the icount before it; None: :meth:`_where`'s) so far, for
        ``abandoned``: an LDM makes several.  A free run counts nothing and
        its hooks see a stale PC, so no instruction is named there: the last
        ``ACCESSES_KEPT`` accesses are kept, whichever instructions made them."""
        acc = self._accesses
        if self._free_running:
            kept = acc[1]
            kept.append((addr, is_write, data))
            if len(kept) > ACCESSES_KEPT:
                del kept[0]
            return
        if at is None:
            at = self._where()
        if acc[0] != at:
            acc = self._accesses = (at, [])
        else:
            for a, w, _ in acc[1]:
                if a == addr and w == is_write:
                    acc = self._accesses = (at, [])
                    break
        acc[1].append((addr, is_write, data))

    def _where(self) -> tuple:
        """(the accessing instruction's address, the instructions retired
        before it) inside an I/O hook."""
        tb = self._tb
        pc = self.pc()
        return pc, self.icount + self._run_done + self._counted + (tb.index(pc) if pc in tb
                                                                  else len(tb))

    def _hook_intr(self, uc, intno, _ud):
        """An exception or software interrupt unicorn raised: the adapter serves it
        (in a free run, once unicorn has stopped: see _run_free)."""
        pc = self.pc()
        if self._free_running:
            self._free_intr = (intno, pc)
            uc.emu_stop()
            return
        tb = self._tb
        if pc in tb:                        # a fault: pc is the faulting instruction
            self._counted += tb.index(pc) + 1
            fault, trap_at = True, None
        else:                               # a trap (INT n): pc is the next instruction
            self._counted += len(tb)
            fault, trap_at = False, tb[-1] if tb else None
        self._tb = ()
        out = self._outcome(self.adapter.interrupt(intno, pc, fault, trap_at))
        if out is not None:
            if getattr(out, "dispatched", False) and self.pc() == (pc if fault else trap_at):
                # served in the hook, and the run ends on the instruction (a
                # semihosting exit call): it did not retire, as on the interpreter
                self._counted -= 1
            self.stop(BEFORE, self.pc(), out)

    def _hook_bp(self, uc, addr, size, _ud):
        if addr == self._skip_bp:
            self._skip_bp = None
            return
        self._resume_bp = addr
        self.stop(BEFORE, addr, DebugExit("breakpoint", addr))

    def _sync_breakpoints(self) -> None:
        """One code hook per breakpoint address.

        Unicorn decides at translation time which instructions call the code
        hooks: a hook added later is never called from a block translated
        before it (a debugger disarms its breakpoints for every single step,
        so the code around a breakpoint is often translated without it).  So
        adding a hook drops every translated block.  Not just the blocks at
        the address (``ctl_remove_cache``): that translates the address
        through the guest's page tables, which sets accessed bits and, where
        nothing is mapped, CR2, and it finds only the code the address maps
        to now, not that of another address space (CR3) with a block at the
        same linear address.  A deleted hook is skipped by unicorn when it
        runs the block, so removal needs no flush."""
        want = self.breakpoints
        have = self._bp_hooks
        for addr in [a for a in have if a not in want]:
            self.uc.hook_del(have.pop(addr))
        added = False
        for addr in want:
            if addr not in have:
                have[addr] = self.uc.hook_add(uc_mod.UC_HOOK_CODE, self._hook_bp, None, addr, addr)
                added = True
        if added:
            self.uc.ctl_flush_tb()

    # -- interrupts -------------------------------------------------------------------------
    def _take_irq(self):
        """Acknowledge and deliver an external interrupt: None, or the exit
        that ends the run (a delivery that shut the CPU down)."""
        vector = self.irq_ack()
        if vector is None:
            return None
        self.sync_state()
        return self.adapter.take_irq(vector)

    def _irq_enabled(self) -> bool:
        return self.adapter.irq_enabled(None if self._uc_ahead else self.machine.cpu)
