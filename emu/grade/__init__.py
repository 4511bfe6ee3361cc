"""Autograding of assembly assignments (docs/grading.md): a TOML spec
(:mod:`.spec`), a runner that builds and runs each submission on fresh
machines (:mod:`.runner`, through the one adapter :mod:`.target`), and the
reports a grading platform reads (:mod:`.report`)."""
