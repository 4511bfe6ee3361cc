"""Guest RAM: one anonymous ``mmap`` with a numpy ``uint8`` view.

The very same buffer is handed to KVM (``KVM_SET_USER_MEMORY_REGION``) and to
unicorn (``mem_map_ptr``), so switching backends copies nothing.

RAM also remembers where code is that a software engine has decoded or
translated: ``code_pages`` flags 4 KiB pages, ``code_map`` flags 64-byte
granules inside them, and ``code_bytes`` flags each byte.  A write that touches a code *byte* drops the code of that whole page:
every registered invalidation listener is called with the page number, so
self-modifying code works on the interpreter's decode cache and on the
translator's block cache alike.  Ordinary data writes that merely share a
page, or a granule, with code -- a stack just below a boot sector at 0x7C00,
a variable stored next to the loop that updates it -- keep the code (QEMU
keeps a per-page bitmap of code bytes for the same reason,
``tb_invalidate_phys_page_fast``).  The granule map is the cheap first test
on every store (translated code reads it inline); only a store into a code
granule looks at the bytes (:meth:`Ram.holds_code`).  Engines that write RAM behind our back
(KVM, unicorn) make the Machine flush those caches when it switches engine.
"""

from __future__ import annotations

import mmap
import struct

import numpy as np

PAGE_SHIFT = 12
PAGE_SIZE = 1 << PAGE_SHIFT
GRANULE_SHIFT = 6          # code_map: one flag per 64 bytes
GRANULES_PER_PAGE = 1 << (PAGE_SHIFT - GRANULE_SHIFT)

_UNPACK = {1: struct.Struct("<B"), 2: struct.Struct("<H"),
           4: struct.Struct("<I"), 8: struct.Struct("<Q")}


def _zeroed(n: int) -> mmap.mmap:
    """``n`` zero bytes that cost host memory only where written."""
    return mmap.mmap(-1, n, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS,
                     prot=mmap.PROT_READ | mmap.PROT_WRITE)


class Ram:
    """Guest-physical RAM from address 0 (or ``base``) of ``size`` bytes."""

    def __init__(self, size: int, base: int = 0):
        if size <= 0 or size % PAGE_SIZE:
            raise ValueError(f"RAM size must be a positive multiple of {PAGE_SIZE} bytes, not {size}")
        self.base = base
        self.size = size
        self.mm = mmap.mmap(-1, size, flags=mmap.MAP_SHARED | mmap.MAP_ANONYMOUS,
                            prot=mmap.PROT_READ | mmap.PROT_WRITE)
        self.view = np.frombuffer(self.mm, dtype=np.uint8)
        # byte maps indexed like bytearrays, in private anonymous memory: the
        # host backs only the parts that were written (a 4 GiB guest's
        # granule map is 64 MiB, nearly all of it zero for ever)
        self.code_pages = _zeroed(size >> PAGE_SHIFT)
        self.code_map = _zeroed(size >> GRANULE_SHIFT)
        self.code_bytes = _zeroed(size)
        self._listeners = []

    # -- bulk access (loaders, debuggers, conformance) -----------------------
    def contains(self, addr: int, size: int = 1) -> bool:
        a = addr - self.base
        return 0 <= a and a + size <= self.size

    def load(self, addr: int, data: bytes) -> None:
        a = addr - self.base
        if a < 0 or a + len(data) > self.size:
            raise ValueError(f"{len(data)} bytes at 0x{addr:x} do not fit in RAM "
                             f"0x{self.base:x}-0x{self.base + self.size - 1:x}")
        self.mm[a:a + len(data)] = data
        self.invalidate_range(addr, len(data))

    def read_bytes(self, addr: int, n: int) -> bytes:
        a = addr - self.base
        return bytes(self.mm[a:a + n])

    def clear(self) -> None:
        self.view[:] = 0
        self.invalidate_range(self.base, self.size)

    # -- sized access ---------------------------------------------------------
    def read(self, addr: int, size: int) -> int:
        return _UNPACK[size].unpack_from(self.mm, addr - self.base)[0]

    def write(self, addr: int, size: int, value: int) -> None:
        a = addr - self.base
        _UNPACK[size].pack_into(self.mm, a, value)
        cm = self.code_map
        if cm[a >> GRANULE_SHIFT] or cm[(a + size - 1) >> GRANULE_SHIFT]:
            self.invalidate_range(addr, size)

    # -- code-page tracking -----------------------------------------------------
    def add_invalidation_listener(self, fn) -> None:
        """``fn(page_number)`` is called when a code page is written."""
        self._listeners.append(fn)

    def remove_invalidation_listener(self, fn) -> None:
        if fn in self._listeners:
            self._listeners.remove(fn)

    def mark_code(self, addr: int, length: int = 1) -> None:
        """Bytes [addr, addr+length) hold decoded or translated code."""
        a = addr - self.base
        end = min(a + length, self.size)
        if a < 0 or a >= end:
            return
        cm = self.code_map
        for g in range(a >> GRANULE_SHIFT, ((end - 1) >> GRANULE_SHIFT) + 1):
            cm[g] = 1
        for page in range(a >> PAGE_SHIFT, ((end - 1) >> PAGE_SHIFT) + 1):
            self.code_pages[page] = 1
        self.code_bytes[a:end] = b"\1" * (end - a)

    def holds_code(self, offset: int, size: int) -> bool:
        """One of the bytes at RAM offsets [offset, offset+size) (address
        minus ``base``) holds decoded code: a store there must drop it.
        What a store into a code granule asks before it takes the slow way."""
        return self.code_bytes.find(b"\1", offset, offset + size) >= 0

    def invalidate_range(self, addr: int, size: int) -> bool:
        """A write to [addr, addr+size): drop the code of every page in which
        it touched a code byte.  True if it dropped any."""
        a = max(addr - self.base, 0)
        end = min(addr - self.base + size, self.size)
        if a >= end:
            return False
        cm = self.code_map
        first, last = a >> GRANULE_SHIFT, (end - 1) >> GRANULE_SHIFT
        if not any(cm[first:last + 1]):
            return False
        dropped = False
        for page in range(a >> PAGE_SHIFT, ((end - 1) >> PAGE_SHIFT) + 1):
            p0 = page << PAGE_SHIFT
            if self.holds_code(max(a, p0), min(end, p0 + PAGE_SIZE) - max(a, p0)):
                self._drop_page(page)
                dropped = True
        return dropped

    def _drop_page(self, page: int) -> None:
        g0 = page * GRANULES_PER_PAGE
        self.code_map[g0:g0 + GRANULES_PER_PAGE] = bytes(GRANULES_PER_PAGE)
        self.code_pages[page] = 0
        p0 = page << PAGE_SHIFT
        self.code_bytes[p0:p0 + PAGE_SIZE] = bytes(PAGE_SIZE)
        for fn in self._listeners:
            fn(page + (self.base >> PAGE_SHIFT))

    def invalidate_all(self) -> None:
        for page in range(len(self.code_pages)):
            if self.code_pages[page]:
                self._drop_page(page)

    def host_address(self) -> int:
        """Host virtual address of the buffer (for KVM and unicorn)."""
        import ctypes
        # ABI: a pointer into our own anonymous mapping; kept alive by self.mm.
        buf = (ctypes.c_char * self.size).from_buffer(self.mm)
        addr = ctypes.addressof(buf)
        del buf
        return addr
