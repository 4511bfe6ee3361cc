"""kasou: a teaching emulator (see README.md and docs/architecture.md)."""


def version() -> str:
    """The installed kasou's version, as ``emu --version`` and QMP's
    ``query-version`` report it."""
    from importlib import metadata
    try:
        return metadata.version("kasou")
    except metadata.PackageNotFoundError:
        return "unknown (not installed)"
