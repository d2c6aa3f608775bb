# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.ipguard-installed
DATASET ?= digits

SWEEP  ?= fig6
# Extra Hydra overrides, e.g. make zoo DATASET=fashion_mnist ZOO_ARGS=trainer=cpu_bf16
ZOO_ARGS   ?=
BENCH_ARGS ?=

.PHONY: install demo zoo bench sweep figures efficiency test test-slow test-slurm lint clean

# Create the virtual environment and install the suite (editable) with its test tools.
# torch 2.14.1 / torchvision 0.29.1 come from this machine's local wheels (see README).
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --disable-pip-version-check -q -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

# Build the digits zoo (skips members already built) and run the IPGuard-TL benchmark on it.
demo: $(STAMP)
	$(BIN)/python -m train.zoo dataset=$(DATASET)
	$(BIN)/python -m ipguard.bench dataset=$(DATASET) method=ipguard init=train label=least_likely

zoo: $(STAMP)
	$(BIN)/python -m train.zoo dataset=$(DATASET) $(ZOO_ARGS)

bench: $(STAMP)
	$(BIN)/python -m ipguard.bench dataset=$(DATASET) $(BENCH_ARGS)

# A paper sweep (sweeps/$(SWEEP).yaml) on $(DATASET); `make figures` then redraws the paper.
sweep: $(STAMP)
	$(BIN)/python -m ipguard.bench -m sweep=$(SWEEP) dataset=$(DATASET) $(BENCH_ARGS)

figures: $(STAMP)
	$(BIN)/python -m ipguard.figures dataset=$(DATASET)

# Table 8: seconds per method for 100 points at each best setting, with the
# one-point-at-a-time IPGuard baseline (needs the figure sweeps' records).
efficiency: $(STAMP)
	$(BIN)/python -m ipguard.bench -m sweep=table8 dataset=$(DATASET) $(BENCH_ARGS)

# ruff, and the layers of docs/design.md as import-linter contracts (pyproject.toml).
lint: $(STAMP)
	$(BIN)/ruff check ipguard train tests benchmarks
	$(BIN)/lint-imports

# The default suite (pytest exits non-zero on failures and on "no tests ran"), one worker per
# core (at most 4; each test module stays on one worker, so its fixtures are built once).
# PYTEST_ARGS adds pytest options, e.g. make test PYTEST_ARGS="-n 0 -k wandb".
PYTEST_ARGS ?=
test: $(STAMP) lint
	$(BIN)/python -m pytest -n auto --maxprocesses=4 --dist loadscope $(PYTEST_ARGS)

test-slow: $(STAMP)
	$(BIN)/python -m pytest -m slow

test-slurm: $(STAMP)
	$(BIN)/python -m pytest -m slurm

clean:
	rm -rf outputs multirun .pytest_cache
