"""Decimal arithmetic (SDM Vol. 1 §7.3.3): DAA DAS AAA AAS AAM AAD."""

from . import sem  # noqa: F401
