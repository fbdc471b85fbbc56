# The commands a new user types: `make report`, `make demo`, `make test`.
# The first run creates .venv and installs the pinned packages (about two minutes from local disk).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: report demo test fuzz lint format bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -e '.[test]'
	touch $(STAMP)

report: $(STAMP)  ## the paper report (frozen results, or a GPU to train)
	$(PY) build.py

demo: $(STAMP)  ## the CPU study from its committed frozen results: no data, no GPU
	$(PY) build.py --profile cpu-study

test: $(STAMP)  ## the suite; property tests draw the same fixed examples every run
	$(PY) -m pytest --hypothesis-profile=ci

fuzz: $(STAMP)  ## the property tests only, 500 fresh random examples each (FUZZ_EXAMPLES=N for more)
	$(PY) -m pytest -m hypothesis --hypothesis-profile=fuzz --hypothesis-show-statistics

lint: $(STAMP)
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff format . && $(VENV)/bin/ruff check --fix .

bench: $(STAMP)
	$(PY) benchmarks/precision_throughput.py
	$(PY) benchmarks/train_throughput.py
	$(PY) benchmarks/eval_throughput.py
	$(PY) benchmarks/build_time.py

clean:
	rm -rf out runs
