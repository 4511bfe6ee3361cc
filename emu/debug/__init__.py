"""Debugging: the ``emu debug`` REPL, the gdb remote stub, and record/replay.

All three drive a :class:`emu.debug.session.Session`, which drives only the
Machine and the Accelerator's debug contract (single-step, breakpoints,
state sync): no engine knows it is being debugged.
"""
