# Every target sets itself up: a fresh clone needs nothing but python3.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
BENCH_STAMP := $(VENV)/.bench-installed
BUILD := build

# 'compile' refreshes msft's bytecode caches.
.PHONY: install compile demo test docs commands wisdom bench bench-all samples clean

install: $(STAMP)

# torch for msft_cli.torch and its tests: the CPU build 2.13.0 (from the local disk on our
# machines), installed before the extras, whose torch>=2.1 then adds nothing (a bare torch
# requirement would pull a CUDA build of several GB)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[test,docs,torch]'
	touch $(STAMP)

# An editable install leaves msft's own modules uncompiled; compiling them once spares
# every command the work (noticeable in start-up when PYTHONDONTWRITEBYTECODE is set).
compile: $(STAMP)
	$(PY) -m compileall -q msft_cli

demo: compile
	$(PY) scripts/demo.py sample_audio $(BUILD)/demo
	$(PY) -m msft_cli render $(BUILD)/demo/*.h5 -o $(BUILD)/demo

test: $(STAMP)
	$(PY) -m pytest -q

# The documentation (docs/conf.py: Sphinx, numpydoc, myst-parser) into build/docs, warnings
# as errors. 'commands' regenerates docs/commands.md from every command's --help first
# (tests/test_docs_build.py checks that the committed file is what it writes).
commands: $(STAMP)
	$(PY) scripts/command_reference.py docs/commands.md

docs: commands
	$(PY) -m sphinx -b html -W --keep-going -q docs $(BUILD)/docs

# Measured FFTW plans for the default settings, kept for every later run (minutes, once
# per machine; msft's cache folder, see 'msft wisdom --help').
wisdom: compile
	$(PY) -m msft_cli wisdom

# Benchmarks print markdown tables (and write them under build/bench/). Run them on a
# quiet machine: they measure wall time.
# bench/peers.py's peers: the bench extra, then nsgt, whose setup.py needs numpy and Cython
$(BENCH_STAMP): $(STAMP)
	$(PY) -m pip install --quiet -e '.[bench]'
	$(PY) -m pip install --quiet --no-build-isolation 'nsgt==0.19'
	touch $(BENCH_STAMP)

bench: $(BENCH_STAMP) compile
	mkdir -p $(BUILD)/bench
	$(PY) bench/transform.py --markdown $(BUILD)/bench/transform.md
	$(PY) bench/render.py
	$(PY) bench/batch.py --quick
	$(PY) bench/dataset.py
	$(PY) bench/phase.py --quick --markdown $(BUILD)/bench/phase.md
	$(PY) bench/learn_dft.py --quick --markdown $(BUILD)/bench/learn_dft.md
	$(PY) bench/peers.py --quick --wisdom $(BUILD)/bench/fftw-wisdom --markdown $(BUILD)/bench/peers.md
	$(PY) bench/torch_engine.py --quick --markdown $(BUILD)/bench/torch_engine.md

# The long runs: 60-minute files, the published learn-dft configuration in full.
bench-all: bench
	$(PY) bench/transform.py --long --markdown $(BUILD)/bench/transform-long.md
	$(PY) bench/learn_dft.py --markdown $(BUILD)/bench/learn_dft-full.md
	$(PY) bench/peers.py --wisdom $(BUILD)/bench/fftw-wisdom --markdown $(BUILD)/bench/peers-full.md

samples: $(STAMP)
	$(PY) sample_audio/make_samples.py

clean:
	rm -rf $(VENV) $(BUILD) .pytest_cache .hypothesis
