# Two entry points for newcomers (see README):
#   make demo   set up .venv, then run OCR-Pose end to end on the embedded synthetic data
#   make test   set up .venv, then run the test suite, the docs build (warnings as errors) and doctests
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
# torch==2.13.0 is the CPU build that these machines keep on local disk; the package itself
# only asks for torch>=2.1. Override with `make TORCH_SPEC=torch test` elsewhere.
TORCH_SPEC ?= torch==2.13.0

.PHONY: setup demo test docs bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "$(TORCH_SPEC)"
	$(PY) -m pip install -q -e ".[dev,docs]"
	touch $@

setup: $(VENV)/.installed

demo: setup
	$(PY) -m examples.ocr_pose demo --out outputs/demo

test: setup
	$(PY) -m pytest -q -p no:cacheprovider
	$(PY) -m sphinx -W --keep-going -q -b html docs docs/_build/html
	$(PY) -m sphinx -W --keep-going -q -b doctest docs docs/_build/doctest

docs: setup
	$(PY) -m sphinx -W --keep-going -b html docs docs/_build/html

bench: setup
	$(PY) -m benchmarks.run_all --out outputs/benchmarks

clean:
	rm -rf $(VENV) docs/_build outputs
