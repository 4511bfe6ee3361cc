"""Quiet servers: the tables an engine looks up to serve a port or MMIO
access without an exit.

A quiet server of an address is ``serve(size, value)``: it has the device
there take the access now, if the device can take it quietly (it neither
moves its interrupt line nor asks the machine to stop; see
``Device.quiet_access``), counted as the exit it replaces, and returns the
value read (0 for a write), or -1: nothing was done, and the engine makes
the access the ordinary way, as an exit.

:class:`QuietTable` is address -> server, built on demand by its owner (the
Machine, per bus and direction: ``Machine.quiet_port_reads`` ...), which
an engine consults on each IN/OUT it could serve in place -- QEMU's
kvm_cpu_exec() serves KVM_EXIT_IO the same way without leaving its loop.
An address nothing serves quietly has the server :func:`declined`, one
function shared by every table, so that an engine tells "no quiet server"
by identity (``serve is declined``) without calling it.  :data:`DECLINE_ALL`
is the table that declines every address: what an engine consults when no
Machine provides one.

The module imports neither the devices nor a target: the bus
(``emu.devices.bus``) and the x86 Ops (``emu.isa.x86.concrete``) share it.
"""

from __future__ import annotations

#: how many addresses a table (and a bus's find) remembers the answer for:
#: a guest sweeping a device's window, or unassigned space, stops filling it
FOUND_MAX = 4096


def declined(size: int, value: int) -> int:
    """The quiet server of an address nothing serves quietly: -1, always."""
    return -1


class QuietTable(dict):
    """address -> ``serve(size, value)``: the value read (0 for a write),
    or -1 when the access was not served (the engine makes it the ordinary
    way, as an exit).  ``build(address)`` makes an address's server the
    first time it is looked up (``table[address]``); the first FOUND_MAX
    addresses keep theirs.  The bus empties its tables when a device is
    mapped, and their owner (``Bus.quiet_changed``) when what it builds
    would change."""

    def __init__(self, build):
        super().__init__()
        self._build = build

    def __missing__(self, addr: int):
        serve = self._build(addr)
        if len(self) < FOUND_MAX:
            self[addr] = serve
        return serve


class _DeclineAll(dict):
    """address -> :func:`declined` for every address, remembering none."""

    def __missing__(self, addr: int):
        return declined


#: the table that serves nothing quietly (an engine with no Machine's tables)
DECLINE_ALL = _DeclineAll()
