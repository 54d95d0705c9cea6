# The README's quick start: `make demo` and `make test`.
# the interpreter of .venv (.ci/python says which and why); `make clean setup`
# after changing it
PYTHON ?= $(shell .ci/python)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup sysdeps demo test bench docs clean

sysdeps:
	@PYTHON='$(PYTHON)' .ci/sysdeps

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# compat mode: a plain .pth entry instead of setuptools' import finder, which
	# costs ~50 ms at every start; fall back to the default if it ever goes away
	$(BIN)/pip install -q -e '.[test]' --config-settings editable_mode=compat \
	  || $(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

# Bytecode for unilang's own modules, written even where PYTHONDONTWRITEBYTECODE
# is set (Python still reads it): each command then starts without compiling.
# Then unilang's launcher over pip's console script (unilang/launcher.py):
# Python started without `site`, which the early paths of build and run skip;
# as bin/unilang-py, behind the native front (unilang/nativefront.py), which
# starts QEMU for an up-to-date `run` before Python starts. Without gcc, or
# when the front does not compile, bin/unilang is the Python launcher.
setup: sysdeps $(STAMP)
	$(BIN)/python -m compileall -q unilang
	$(BIN)/python -m unilang.nativefront $(BIN)/unilang

# Check, build and boot the bundled example on the kvm backend.
demo: setup
	$(BIN)/unilang check examples/hello/hello.uni
	$(BIN)/unilang build examples/hello/hello.uni --backend kvm
	$(BIN)/unilang run examples/hello/hello.uni --backend kvm

test: setup
	$(BIN)/python -m pytest tests

bench: setup
	$(BIN)/pip install -q -e '.[bench]'
	$(BIN)/python -m unilang.nativefront $(BIN)/unilang
	$(BIN)/python bench/run.py

docs: $(STAMP)
	$(BIN)/python -m unilang.codes > docs/diagnostics.md
	$(BIN)/python -m unilang.stdlibdoc > docs/stdlib.md

clean:
	rm -rf build $(VENV) .pytest_cache
