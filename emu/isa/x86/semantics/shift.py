"""Shifts and rotates (SDM Vol. 1 §7.3.6): ROL ROR RCL RCR SHL SHR SAL SAR SHLD SHRD, per-model count masking."""

from . import sem  # noqa: F401
