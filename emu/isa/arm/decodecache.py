"""One Decoder per CPU model, built on first use (building the 4096-entry
dispatch tables costs a few tens of milliseconds); each cache belongs to the
object that holds it, so two Machines never share mutable state through it."""

from __future__ import annotations

from functools import lru_cache

from .semantics import REGISTRY
from .table import Decoder


@lru_cache(maxsize=None)
def decoder_for(model):
    """The decoder of ``model`` (a frozen ArmModel) with the A32 semantics."""
    return Decoder(model, REGISTRY)


@lru_cache(maxsize=None)
def thumb_decoder_for(model):
    """The T16 decoder of ``model``."""
    from .thumb import ThumbDecoder
    return ThumbDecoder(model, REGISTRY)
