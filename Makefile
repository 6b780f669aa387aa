# softack: every target installs what it needs first, so a fresh clone needs nothing else.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
CORPUS ?=

.PHONY: install train eval test test-fast demo demo-pipecat bench fuzz clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

train: install
	$(PY) -m training.prepare
	$(PY) -m training.train $(if $(CORPUS),--corpus $(CORPUS))
	$(PY) -m training.evaluate

eval: install
	$(PY) -m training.evaluate $(if $(CORPUS),--corpus $(CORPUS))

test: install
	$(PY) -m pytest

# The same suite on four pytest-xdist workers: ~2 min instead of ~5.5 on an idle 2-core machine.
# Not for a busy one: the gate scenarios run in real time, and starved workers miss their scripts.
test-fast: install
	$(PY) -m pytest -n 4

demo: install
	$(PY) -m softack.demo

# The same scenarios in a Pipecat pipeline, softack's user-turn strategy beside stock Pipecat,
# with the answer-vs-nod scenarios ("yes" after the bot's question vs mid-statement).
demo-pipecat: install
	$(PY) -m softack.pipecat.demo

bench: install
	$(PY) -m tests.benchmarks.run

# The property-based tests of `make test`, with a larger budget (FUZZ=examples per property).
FUZZ ?= 20000
fuzz: install
	SOFTACK_FUZZ_EXAMPLES=$(FUZZ) $(PY) -m pytest -q tests/test_robustness.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis build dist
