"""QEMU's monitor for kasou: QMP (the machine protocol) and HMP (the human
monitor), served while the guest runs on any engine.

* :mod:`.chardev` -- the ``-qmp`` / ``-monitor`` endpoints, QEMU's chardev
  syntax (``unix:PATH,server=on,wait=off``, ``tcp:HOST:PORT,...``, ``stdio``);
* :mod:`.qmp` -- the QMP wire protocol (QEMU ``docs/interop/qmp-spec.rst``):
  greeting, capability negotiation, commands, errors and events;
* :mod:`.hmp` -- the HMP commands (``info registers``, ``x``/``xp``, ...);
* :mod:`.server` -- the run loop that serves both while the guest runs.
"""
