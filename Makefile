# The two commands of the README:
#   make demo   set up .venv, compile the shipped digits VAR for the VCK190 in fp4, verify every kernel
#               bit for bit against the interpreter, and run the quantized model on the shipped inputs
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
	$(BIN)/fpqc compile examples/digits/var.onnx --target vck190 --format fp4 -o $(DEMO)/build
	$(BIN)/fpqc verify $(DEMO)/build --samples 1
	$(BIN)/fpqc run $(DEMO)/build --inputs examples/digits/inputs.npz -o $(DEMO)/logits.npz

test: install
	$(BIN)/pytest -q -p no:cacheprovider
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/lit -q tests/filecheck

clean:
	rm -rf $(VENV) out
