"""Boards: memory map and wiring only (which device sits where, which IRQ).

Addresses follow QEMU so a guest built for QEMU runs unchanged.
"""

BOARDS = ("pc",)


def get_board(name: str):
    if name == "pc":
        from . import pc
        return pc
    raise ValueError(f"unknown machine '-M {name}'; expected one of: {', '.join(BOARDS)}")
