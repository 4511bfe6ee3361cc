"""Multiply and divide (SDM Vol. 1 §7.3.2): MUL IMUL DIV IDIV, #DE."""

from . import sem  # noqa: F401
