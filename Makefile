# softack: every target installs what it needs first, so a fresh clone needs nothing else.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
CORPUS ?=

.PHONY: install train eval test demo demo-pipecat bench fuzz clean

$(STAMP): pyproject.toml hatch_build.py runtime/softack/_speedups.c
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

# Two pytest-xdist workers, one per core. Most tests play real-time scripted speech into a live
# session and mostly wait, so two workers halve the wall time; they passed 5 runs of 5 beside a
# CPU-heavy job, where four workers failed 4 of 8 (starved workers miss their scripts). Work
# stealing keeps both busy to the end: the default hand-out left one idle for a minute (255 s
# against 182 s for the same 388 tests).
test: install
	$(PY) -m pytest -n 2 --dist worksteal

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
	rm -rf $(VENV) .pytest_cache .hypothesis build dist runtime/softack/_speedups*.so
