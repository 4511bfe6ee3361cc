"""Device models.  They know nothing about backends: each one implements the
``Device`` contract in ``emu.devices.device`` and is wired up by a board."""
