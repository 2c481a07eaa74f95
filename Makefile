# The two commands of the README:
#   make demo   set up .venv, build the demo MLP, compile it for the VCK190 in fp4, verify the C++ bit for bit
#   make test   set up .venv, run pytest and the lit/FileCheck tests
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DEMO := out/demo

.PHONY: install demo test clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

demo: install
	$(BIN)/python examples/mlp/make_mlp.py -o $(DEMO)/mlp.onnx
	$(BIN)/fpqc compile $(DEMO)/mlp.onnx --target vck190 --format fp4 -o $(DEMO)/build
	$(BIN)/fpqc verify $(DEMO)/build --samples 8

test: install
	$(BIN)/pytest -q -p no:cacheprovider
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/lit -q tests/filecheck

clean:
	rm -rf $(VENV) out
