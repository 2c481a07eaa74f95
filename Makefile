# The two commands of the README:
#   make demo   set up .venv; calibrate the shipped digits VAR, compile it for the VCK190 with FPQVAR W4A4,
#               verify a whole generation through the accelerator's C simulation bit for bit against the
#               interpreter, generate digits through the C simulation, run the quantized model on the
#               shipped inputs, and print the quality table of the recipes
#   make test   set up .venv; check the import layering (import-linter) and unused names (ruff);
#               run pytest and the lit/FileCheck tests
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
	$(BIN)/fpqc calibrate examples/digits/var.onnx --classes 0-9 --samples 2 -o $(DEMO)/calib.npz
	$(BIN)/fpqc compile examples/digits/var.onnx --target vck190 --format fp4 --calib $(DEMO)/calib.npz -o $(DEMO)/build
	$(BIN)/fpqc verify $(DEMO)/build --samples 1
	$(BIN)/fpqc generate $(DEMO)/build --classes 0-9 --device csim -o $(DEMO)/samples.npz
	$(BIN)/fpqc run $(DEMO)/build --inputs examples/digits/inputs.npz -o $(DEMO)/logits.npz
	$(BIN)/fpqc eval examples/digits/var.onnx --calib $(DEMO)/calib.npz -o $(DEMO)/eval

test: install
	$(BIN)/lint-imports
	$(BIN)/ruff check fpqc tests benchmarks examples scripts
	$(BIN)/pytest -q -p no:cacheprovider -n auto --dist loadfile
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/lit -s tests/filecheck

clean:
	rm -rf $(VENV) out
