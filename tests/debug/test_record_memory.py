"""The debugger's recording costs memory in proportion to the pages the
guest touched, not to the size of RAM, and going back stays exact.

A guest with a large ``-m`` that writes one byte to a new page per loop
iteration: each checkpoint holds only the page its step dirtied, the whole
recording holds a few pages, and nothing proportional to RAM is allocated
(traced with ``tracemalloc``, which sees numpy's buffers too).  Stepping
back restores each page exactly.
"""

import os
import tracemalloc

import pytest

from emu.debug.session import Session
from emu.loader import assemble
from emu.machine import Machine
from emu.memory import PAGE_SIZE

PAGES = 8
RAM = 64 << 20
GUEST = f"""
    mov ax, 0x1000
    mov ds, ax
    mov cx, {PAGES}
again:
    mov bx, cx
    shl bx, 12
    mov byte ptr [bx], cl
    loop again
    hlt
"""
KVM = pytest.param("kvm", marks=pytest.mark.skipif(not os.path.exists("/dev/kvm"),
                                                   reason="/dev/kvm is absent on this host"))


def page_bytes(m, k):
    return m.ram.read_bytes(0x10000 + (k << 12), 1)[0]


@pytest.mark.parametrize("accel", ["interp", "tcg", "unicorn", KVM])
def test_recording_holds_dirty_pages_only_and_rewinds_exactly(accel):
    img = assemble(GUEST, "pages.S")
    tracemalloc.start()
    try:
        m = Machine(accel=accel, memory=RAM)
        m.load_image(img.data, img.name)
        s = Session(m, img, interval=1)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    try:
        assert peak < RAM // 8, peak                 # no copy of RAM was made
        start = s.recorder.stored_bytes()
        assert start < 16 * PAGE_SIZE, start         # the image, the IVT, the BIOS stub
        s.step(3)                                    # to the loop
        for k in range(PAGES, 0, -1):
            s.step(3)                                # mov bx / shl / mov [bx]
            assert page_bytes(m, k) == k
            assert list(s.recorder.cps[-1].pages) == [0x10 + k], k
            s.step(1)                                # loop
        assert s.recorder.stored_bytes() - start <= PAGES * PAGE_SIZE
        for k in range(1, PAGES + 1):                # back, one page at a time
            s.reverse_step(4)
            assert page_bytes(m, k) == 0, k
            assert all(page_bytes(m, j) == j for j in range(k + 1, PAGES + 1)), k
        st = s.cont()                                # and forward again: the same bytes
        assert st.reason == "halted"
        assert [page_bytes(m, k) for k in range(1, PAGES + 1)] == list(range(1, PAGES + 1))
    finally:
        s.close()
        m.close()
