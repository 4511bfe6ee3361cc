# kasou -- the two commands a new user needs are `make demo` and `make test`.
# Both create the virtual environment (.venv) from setup.cfg on first use.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
EMU    := $(VENV)/bin/emu
STAMP  := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: demo shell test test-all bench coverage conformance vectors clean venv deps arm-guests

venv: $(STAMP)

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(EMU) demo

# a shell where `emu` is this checkout's (.venv/bin first on PATH); `exit` leaves it
shell: $(STAMP)
	@echo "emu is $(CURDIR)/$(EMU); type exit to leave this shell"
	@PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $${SHELL:-/bin/sh}

# Debian packages the tests use (as root in CI; nothing to do when they are present):
# stock gdb (tests/debug/test_gdb*.py); GNU as, ld and gcc to build ELF guests with
# DWARF line info, and nm, addr2line and objcopy to judge the ELF loader (tests/unit/test_elf.py);
# nasm assembles .asm guests and judges the NASM corpus (tests/asm/nasm, tests/unit/test_asm.py);
# qemu-system-i386 as the judge of the decimal-adjust guest (tests/differential/test_bcd_qemu.py);
# qemu-system-x86_64 as the peer of the QMP monitor (tests/monitor/test_against_qemu.py);
# the Arm cross toolchain and newlib build the ARM guests (tests/guests/arm), qemu-system-arm
# judges them (tests/differential/test_arm_qemu.py), gdb-multiarch debugs them
DEB_TOOLS := gdb:gdb as:binutils ld:binutils nm:binutils addr2line:binutils objcopy:binutils gcc:gcc \
             nasm:nasm qemu-system-i386:qemu-system-x86 \
             qemu-system-x86_64:qemu-system-x86 \
             arm-none-eabi-gcc:gcc-arm-none-eabi arm-none-eabi-as:binutils-arm-none-eabi \
             /usr/lib/arm-none-eabi/newlib/librdimon.a:libnewlib-arm-none-eabi \
             qemu-system-arm:qemu-system-arm gdb-multiarch:gdb-multiarch
deps:
	@missing=""; for t in $(DEB_TOOLS); do f=$${t%%:*}; \
	  case $$f in /*) test -e $$f;; *) command -v $$f >/dev/null 2>&1;; esac || missing="$$missing $${t##*:}"; done; \
	if [ -n "$$missing" ]; then apt-get update -qq && apt-get install -y -qq $$missing; fi

# the conformance vectors are found or fetched first; where they can be neither, the
# tests that read them fail with one line that says so, and the rest still run
test: $(STAMP) deps
	-@$(PY) -m emu.vectors
	$(PY) -m pytest -q -m "not slow" --durations=25 $(PYTEST_ARGS)

# (slow tests may run longer than setup.cfg's ten-minute limit per test)
test-all: $(STAMP)
	$(PY) -m pytest -q --timeout=7200 $(PYTEST_ARGS)

bench: $(STAMP)
	$(EMU) bench

coverage: $(STAMP)
	$(EMU) coverage

# The SingleStepTests vectors the conformance tests read, pinned in emu/vectors.json:
# found and checked in $(KASOU_VECTORS) or an existing local copy (../shared/conformance),
# or downloaded from the pinned upstream commits, checked (sha256) and made there.
KASOU_VECTORS ?= $(CURDIR)/.vectors
export KASOU_VECTORS
vectors: $(STAMP)
	$(PY) -m emu.vectors

conformance: $(STAMP) vectors
	$(EMU) conformance 286 --cpu 286
	$(EMU) conformance 8086 --cpu 8086

# the ARM guests for -M virt (tests/guests/arm/Makefile), as ELF files in build/arm-guests
arm-guests: deps
	$(MAKE) -C tests/guests/arm O=$(CURDIR)/build/arm-guests

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
