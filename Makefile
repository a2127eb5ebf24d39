# Every target sets itself up: a fresh clone needs nothing but python3.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
BUILD := build

.PHONY: install demo test bench samples clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(PY) scripts/demo.py sample_audio $(BUILD)/demo
	$(PY) -m msft_cli render $(BUILD)/demo/*.h5 -o $(BUILD)/demo

test: $(STAMP)
	$(PY) -m pytest -q

bench: $(STAMP)
	$(PY) bench/transform.py

samples: $(STAMP)
	$(PY) sample_audio/make_samples.py

clean:
	rm -rf $(VENV) $(BUILD) .pytest_cache .hypothesis
