"""A small guest on one engine, for the translator's code-generation tests:
the Machine with the guest assembled at 0000:7C00 (and the translator's
``out_asm`` log, when asked), and the regions that log shows."""

import contextlib
import io

from emu import loader
from emu.machine import Machine


@contextlib.contextmanager
def machine(src: str, accel: str, memory: int, log=None, hot_threshold=None):
    """A Machine on ``accel`` with ``memory`` bytes of RAM and ``src``
    loaded; ``log`` (a text stream) gets the generated code; the
    translator's ``hot_threshold`` when given."""
    flags = ("out_asm",) if log is not None else ()
    m = Machine(accel=accel, memory=memory, log=log, log_flags=flags)
    if hot_threshold is not None and accel == "tcg":
        m.accel.hot_threshold = hot_threshold
    try:
        m.load_image(loader.assemble(src, "<test>", 0x7C00).data)
        yield m
    finally:
        m.close()


def regions_in(log) -> list:
    """The Python source of every region in an ``out_asm`` log, in order."""
    return [code for code in log.getvalue().split("OUT:") if "[region of" in code]


def stop_state(m, r) -> tuple:
    """How the run ``r`` of ``m`` stopped and the CPU state then (to compare
    engines): reason, instructions, RIP, the first eight registers, RFLAGS."""
    return r.reason, r.icount, m.cpu.rip, tuple(m.cpu.regs[:8]), m.cpu.rflags


def tcg_regions(run, *args) -> list:
    """The regions translated during ``run("tcg", *args, log)`` (at least one)."""
    log = io.StringIO()
    run("tcg", *args, log)
    found = regions_in(log)
    assert found, "no region was translated"
    return found


def stopped_at(src: str, accel: str, memory: int, limit: int, dump=(0x500, 0), log=None,
               hot_threshold=None) -> tuple:
    """Run ``src`` on ``accel`` for at most ``limit`` instructions: how it
    stopped and the CPU state then (:func:`stop_state`), and the RAM bytes
    ``dump`` = (address, length) -- to compare engines wherever a budget
    stops them."""
    with machine(src, accel, memory, log, hot_threshold) as m:
        r = m.run(icount_limit=limit)
        return stop_state(m, r) + (m.ram.read_bytes(*dump),)
