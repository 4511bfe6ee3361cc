"""Autograding of assembly assignments (docs/grading.md): a TOML spec
(:mod:`.spec`), a runner that builds and runs each submission on fresh
machines (:mod:`.runner`, through :mod:`.target` and each architecture's
part, :mod:`.x86` and :mod:`.arm`, chosen in :mod:`.arches`), and the
reports a grading platform reads (:mod:`.report`)."""
