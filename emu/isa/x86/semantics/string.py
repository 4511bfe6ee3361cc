"""String instructions (SDM Vol. 1 §7.3.9): MOVS CMPS SCAS LODS STOS INS OUTS, REP/REPE/REPNE one iteration per step."""

from . import sem  # noqa: F401
