"""A memory that replays a recording: the bus of a single-instruction test
vector whose memory is given as the transactions a CPU made, not as an
image (SingleStepTests' ARM7TDMI suite, ``/work/shared/conformance/README.md``
section 3, "transaction oracle").

No datasheet: this is the test harness's memory, made a device so that the
Machine serves it as it serves every other MMIO access.

* ``replay(reads, words, otherwise)`` sets up one recording: ``reads``,
  ``(addr, size, value)`` as recorded; ``words``, ``{addr: word}`` of
  memory whose content is known (the instruction stream); ``otherwise``,
  the word every other address reads as.
* A read of ``size`` bytes at ``addr`` returns, in this order: the
  recorded read of the same address and size; a recorded read of the
  same size in the same aligned ``size`` bytes (a recording may keep the
  unaligned address of an access whose bus ignores the low bits); the
  bytes of a known word; the bytes of ``otherwise``.  How each read was
  answered is kept (``answers``: ``(addr, size, "recorded" | "word" |
  "otherwise")``), so a harness can tell a read the recording does not
  explain.
* Writes are kept in order (``writes``: ``(addr, size, value)``); they
  do not change what later reads return (the recording says what they
  return).
"""

from __future__ import annotations

from .device import Device, size_mask

WORD = 4


class RecordedMemory(Device):
    name = "recorded-memory"

    def __init__(self, name: str | None = None):
        super().__init__(name)
        self.reads = {}             # (addr, size) -> value, the first recorded
        self.aligned = {}           # (addr aligned to size, size) -> value, the first recorded
        self.words = {}
        self.otherwise = 0
        self.writes = []
        self.answers = []

    def replay(self, reads, words: dict, otherwise: int) -> None:
        """Forget the last recording and serve this one."""
        self.reads = {}
        self.aligned = {}
        for addr, size, value in reads:
            self.reads.setdefault((addr, size), value)
            self.aligned.setdefault((addr & -size, size), value)
        self.words = dict(words)
        self.otherwise = otherwise
        self.writes = []
        self.answers = []

    def read(self, offset: int, size: int) -> int:
        mask = size_mask(size)
        v = self.reads.get((offset, size))
        if v is None:
            v = self.aligned.get((offset & -size, size))
        if v is not None:
            self.answers.append((offset, size, "recorded"))
            return v & mask
        shift = 8 * (offset & (WORD - 1))
        word = self.words.get(offset & -WORD)
        how = "word"
        if word is None:
            word, how = self.otherwise, "otherwise"
        self.answers.append((offset, size, how))
        return (word >> shift) & mask

    def write(self, offset: int, size: int, value: int) -> None:
        self.writes.append((offset, size, value & size_mask(size)))

    def reset(self) -> None:
        super().reset()
        self.replay((), {}, 0)
