"""The Accelerator contract: every engine runs the guest until an exit.

``run(budget)`` runs until something the Machine must handle happens and
returns an :mod:`emu.exits` object; ``budget`` is the most instructions it
may retire (None: no limit; engines that cannot count instructions, such as
KVM, turn it into a time limit).  The engine counts the instructions it
retired in ``icount`` (and :meth:`Accelerator.icount_now` gives the exact
count also in the middle of ``run()``, for the guest clock).  A run may end
with a BUDGET exit before its budget is spent (unicorn does when the guest
reprogrammed a timer); the Machine just runs again.

CPU state: the Machine owns the canonical state object (``machine.cpu``).
Engines that keep their own copy (unicorn, KVM) load it before running when
the Machine says it changed (:meth:`state_changed`, QEMU's
``kvm_arch_put_registers``) and write it back on :meth:`sync_state`
(QEMU's ``cpu_synchronize_state``).  The software engines work on the
canonical state directly, so for them both are cheap.

Stopping: :meth:`Accelerator.request_stop` asks a ``run()`` under way to
return soon (with a BUDGET exit if nothing else happened), at the next
instruction or block boundary; it may be called from a signal handler --
which Python runs in the main thread wherever it is, also inside one of the
engine's own callbacks -- or from another thread.  The Machine clears it
(:meth:`clear_stop`) when it has ended the run.  Engines whose loops do not
look at ``stop_requested`` run in slices of ``stop_slice`` instructions
(:meth:`run_in_slices`) and look between them.

Debugging: ``set_single_step(True)`` makes ``run`` retire one instruction and
return a DEBUG exit; ``breakpoints`` is a set of linear addresses at which
``run`` stops (before executing) with a DEBUG exit.
"""

from __future__ import annotations

#: the most instructions an engine that looks at ``stop_requested`` only
#: between slices runs before it looks (the interpreter: ~50 ms)
STOP_SLICE = 1 << 15


class Accelerator:
    name = "?"
    #: can count retired instructions exactly (software engines)
    exact_icount = True
    #: logs ``-d in_asm`` itself, once per block it translates (the translator)
    logs_blocks = False
    #: see :meth:`run_in_slices`
    stop_slice = STOP_SLICE

    def __init__(self, machine):
        self.machine = machine
        self.icount = 0
        self.single_step = False
        self.breakpoints: set[int] = set()
        self.stop_requested = False
        self._on_interrupt = None

    @property
    def on_interrupt(self):
        """Callback ``(vector, return_ip, error_code)`` for every interrupt or
        exception the engine delivers (``-d int``); engines that deliver
        interrupts themselves call it."""
        return self._on_interrupt

    @on_interrupt.setter
    def on_interrupt(self, fn) -> None:
        self._on_interrupt = fn

    def run(self, budget: int | None):
        raise NotImplementedError

    def take_queued_exit(self):
        """The next exit the engine holds of an instruction it already
        counted (an instruction that made several MMIO writes hands them
        back one per ``run()``), taken from the engine, or None: the Machine
        serves them before a run ends at its instruction limit."""
        return None

    def count_exactly(self, limit: int | None) -> bool:
        """Make ``icount`` exact for a run of at most ``limit`` instructions
        (``-icount-limit``), if this engine can do that cheaply; True if
        ``icount`` is exact.  ``None`` ends it.  Exact engines always are."""
        return self.exact_icount

    def host_notes(self) -> list:
        """Lines on what of this engine's host could explain a run that
        ended abnormally (KVM: the limits its probes found), or []."""
        return []

    def request_stop(self) -> None:
        """Ask the ``run()`` under way (or the next one) to return soon.
        Signal-handler and thread safe: it only sets a flag (engines that
        block in C also wake the engine, see the module docstring)."""
        self.stop_requested = True

    def clear_stop(self) -> None:
        self.stop_requested = False

    def run_in_slices(self, run, budget):
        """``run(budget)`` in slices of at most ``stop_slice``
        instructions, so that ``stop_requested`` is looked at between them:
        until an exit other than BUDGET, the end of ``budget`` or a stop
        request.  For engines whose inner loops (or generated code) do not
        look at the flag; slicing does not change what the guest sees, as
        the budget of an exact engine is honoured exactly."""
        size = self.stop_slice
        while True:
            if budget is not None and budget <= size:
                return run(budget)
            before = self.icount
            ex = run(size)
            if ex.reason != "BUDGET" or self.stop_requested:
                return ex
            if budget is not None:
                budget -= self.icount - before

    def icount_now(self) -> int:
        """Instructions retired so far, exact also while ``run()`` is under
        way (a device read from inside an engine's I/O hook, an interrupt
        being acknowledged): the guest clock of ``-icount``.  Engines that
        count into ``icount`` only when ``run()`` returns override it."""
        return self.icount

    def sync_state(self) -> None:
        """Bring machine.cpu up to date with the engine."""

    def state_changed(self) -> None:
        """machine.cpu was modified from outside; reload before running."""

    def set_single_step(self, on: bool) -> None:
        self.single_step = on

    def flush_code_cache(self) -> None:
        """Forget decoded/translated code (RAM was changed behind our back)."""

    def stats(self) -> dict:
        """Engine-specific counters for ``emu bench`` (blocks translated, ...)."""
        return {}

    def close(self) -> None:
        pass


_REGISTRY = {
    "interp": ("emu.accel.interp", "Interpreter"),
    "tcg": ("emu.accel.tcg", "Translator"),
    "unicorn": ("emu.accel.unicorn", "UnicornAccel"),
    "kvm": ("kvm.accel", "KvmAccelerator"),
}


class AccelUnavailable(Exception):
    """This engine cannot run here (missing module, missing /dev/kvm, wrong guest)."""


# The CPU models (-cpu) each engine runs.  unicorn and KVM run a modern CPU
# (QEMU's TCG, the host's): they cannot be an 8086 or a 286, so `emu run`,
# `debug` and `diff` refuse the combination rather than silently give modern
# results.  (`emu conformance` still runs a chip's vectors on them: there the
# engine is judged against the chip, kasou's side -- interrupt delivery,
# address wrap -- following the chip's model.)
_CPU_MODELS = {"interp": ("8086", "286", "max", "arm7tdmi", "cortex-a15"),
               "tcg": ("8086", "286", "max", "arm7tdmi", "cortex-a15"), "unicorn": ("max", "cortex-a15"),
               "kvm": ("max",)}
#: the models of one architecture (a refusal names the engines of that one)
_FAMILIES = (("8086", "286", "max"), ("arm7tdmi", "cortex-a15"))


def cpu_engines(cpu: str) -> tuple:
    """The engines that model ``-cpu cpu``."""
    return tuple(a for a, models in _CPU_MODELS.items() if cpu in models)


def cpu_model_error(accels, cpu: str) -> str | None:
    """Why ``-cpu cpu`` cannot run on every engine of ``accels`` (None: it can)."""
    cpu = cpu or "max"
    bad = [a for a in accels if cpu not in _CPU_MODELS.get(a, (cpu,))]
    if not bad:
        return None
    family = next((f for f in _FAMILIES if cpu in f), (cpu,))
    tables = {a: tuple(m for m in ms if m in family) for a, ms in _CPU_MODELS.items()}
    which = "; ".join(f"{', '.join(a for a in tables if tables[a] == ms)} model -cpu {'/'.join(ms)}"
                      for ms in dict.fromkeys(tables.values()) if ms)
    return f"-cpu {cpu} is not modelled by -accel {','.join(bad)} ({which})"


def accel_names() -> list[str]:
    return list(_REGISTRY)


def create_accel(name: str, machine) -> Accelerator:
    """Find an engine by name, lazily: ``import emu`` never imports unicorn or kvm."""
    import importlib
    if name not in _REGISTRY:
        raise AccelUnavailable(f"unknown accelerator '{name}'; expected one of: {', '.join(_REGISTRY)}")
    mod_name, cls_name = _REGISTRY[name]
    try:
        mod = importlib.import_module(mod_name)
    except ImportError as e:
        raise AccelUnavailable(f"accelerator '{name}' is not available here ({e})") from None
    cls = getattr(mod, cls_name, None)
    if cls is None:
        raise AccelUnavailable(f"accelerator '{name}' is not built yet")
    return cls(machine)
