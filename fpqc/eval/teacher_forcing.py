"""The teacher-forcing inputs ``fpqc eval`` compares recipes on.

``--inputs`` (an ``.npz`` keyed by the model's input names), else ``inputs.npz``
beside the model, else — for a VAR whose VQVAE is at hand (``vae.npz`` beside
it or ``--vae``) — the float model's own generations: one image per row of the
graph's static batch (classes 0, 1, ... in turn, guidance 1.5, top-k 900 and
top-p 0.96 as the released sampler, seed 0), turned into the teacher-forcing
input by the VQVAE (``idxBl_to_var_input``)::

    tokens_k = sample(model(labels, inputs so far))    for k = 0..K-1
    inputs   = VQVAE.idxBl_to_var_input(tokens)         [B, L - first_l, Cvae]
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from xdsl.dialects.builtin import ModuleOp

from fpqc.backends.interp.runner import model_input_names
from fpqc.errors import FpqcError
from fpqc.files.npz import read_npz
from fpqc.runtime.var_runtime import VarRuntime

SAMPLING = {"cfg": 1.5, "top_k": 900, "top_p": 0.96, "seed": 0}


def load_inputs(model: Path, inputs: Path | None, module: ModuleOp, vae: Path | None = None) -> dict[str, np.ndarray]:
    """Teacher-forcing inputs for ``module`` (see the module docstring)."""
    path = inputs or model.parent / "inputs.npz"
    if inputs is None and not path.is_file():
        return generated_inputs(model, vae, path)
    if not path.is_file():
        raise FpqcError(f"{path}: no such file; pass --inputs with arrays keyed by the model's input names")
    names = model_input_names(module)
    data = read_npz(path, "inputs")
    missing = [n for n in names if n not in data]
    if missing:
        raise FpqcError(f"{path}: missing input arrays {', '.join(missing)} (the model's inputs: {', '.join(names)})")
    return {n: data[n] for n in names}


def generated_inputs(model: Path, vae: Path | None, missing: Path) -> dict[str, np.ndarray]:
    """Teacher-forcing inputs from the float model's own generations (see the module docstring)."""
    try:
        runtime = VarRuntime.load(model, vae)
    except FpqcError as e:
        raise FpqcError(
            f"{missing}: no such file, and no inputs can be generated ({e}); pass --inputs, or --vae for a VAR"
        ) from None
    inputs = runtime.model.inputs
    labels = np.arange(inputs.batch, dtype=np.int64) % runtime.config.num_classes
    generation = runtime.generate(labels, decode=False, **SAMPLING)
    with torch.no_grad():
        tokens = runtime.vqvae.quantize.idxBl_to_var_input([torch.from_numpy(t) for t in generation.tokens])
    return {inputs.label: labels, inputs.tokens: tokens.numpy().astype(np.float32)}
