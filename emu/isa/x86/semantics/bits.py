"""Bit and byte instructions (SDM Vol. 1 §7.3.7): BT BTS BTR BTC BSF BSR, CMPXCHG, XADD."""

from . import sem  # noqa: F401
