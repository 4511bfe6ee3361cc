"""The port-I/O bus and the MMIO bus.

A board places devices at addresses; a bus turns an access at an absolute
address into ``device.read(offset, size)`` / ``device.write(offset, size,
value)``.  Accesses that hit no device behave as on QEMU's "unassigned"
region: reads return all ones, writes are dropped; both are counted so a
learner can see them (``unassigned_reads``, ``unassigned_writes``).

A bus also keeps the quiet servers of its addresses (:class:`emu.quiet.QuietTable`,
one per direction): for each address accessed, the function that serves an
access there without an exit when its device can take it quietly
(``Device.quiet_access``), as the owner of the bus built it (the Machine
counts it as an exit) -- so that an engine pays one dict lookup and one
call for a quiet access.
"""

from __future__ import annotations

import bisect

from ..quiet import FOUND_MAX, QuietTable


class Bus:
    def __init__(self, name: str, limit: int):
        self.name = name
        self.limit = limit
        self._starts: list[int] = []
        self._maps: list[tuple[int, int, object]] = []   # (base, size, device)
        self.unassigned_reads = 0
        self.unassigned_writes = 0
        #: address -> find's answer, for the addresses accessed (a device's
        #: registers are few); emptied when a device is mapped
        self._found: dict[int, tuple] = {}
        self._quiet: list[QuietTable] = []

    def quiet_table(self, build) -> QuietTable:
        """A new :class:`QuietTable` of this bus's addresses, made by
        ``build(address)``, emptied whenever a device is mapped."""
        table = QuietTable(build)
        self._quiet.append(table)
        return table

    def quiet_changed(self) -> None:
        """Forget every quiet server built (what builds them changed)."""
        for table in self._quiet:
            table.clear()

    def map(self, base: int, size: int, device) -> None:
        if base < 0 or size <= 0 or base + size > self.limit:
            raise ValueError(f"{self.name}: 0x{base:x}+0x{size:x} is outside the bus")
        for b, s, d in self._maps:
            if base < b + s and b < base + size:
                raise ValueError(f"{self.name}: {getattr(device, 'name', device)} at 0x{base:x} "
                                 f"overlaps {getattr(d, 'name', d)} at 0x{b:x}")
        i = bisect.bisect(self._starts, base)
        self._starts.insert(i, base)
        self._maps.insert(i, (base, size, device))
        self._found.clear()
        self.quiet_changed()

    def find(self, addr: int):
        """(device, offset) for ``addr``, or (None, 0); remembered for the
        first FOUND_MAX addresses asked about."""
        found = self._found.get(addr)
        if found is None:
            found = None, 0
            i = bisect.bisect(self._starts, addr) - 1
            if i >= 0:
                base, size, dev = self._maps[i]
                if addr < base + size:
                    found = dev, addr - base
            if len(self._found) < FOUND_MAX:
                self._found[addr] = found
        return found

    def read(self, addr: int, size: int) -> int:
        dev, off = self.find(addr)
        if dev is None:
            self.unassigned_reads += 1
            return (1 << (8 * size)) - 1
        return dev.read(off, size) & ((1 << (8 * size)) - 1)

    def write(self, addr: int, size: int, value: int) -> None:
        dev, off = self.find(addr)
        if dev is None:
            self.unassigned_writes += 1
            return
        dev.write(off, size, value & ((1 << (8 * size)) - 1))

    def devices(self):
        return [(b, s, d) for b, s, d in self._maps]
