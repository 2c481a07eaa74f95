"""Export the reference VAR to ONNX (``var.onnx``) and its VQVAE runtime pieces (``vae.npz``).

``export_var(cfg, out_dir, var_state=None, vae_state=None, route="fpqc", batch=1, seed=0)``
writes into ``out_dir``:

``var.onnx``
    The teacher-forcing forward ``VAR.forward`` with static shapes:

    - inputs ``label_B`` [batch] int64 and ``x_BLCv_wo_first_l`` [batch, L - first_l, Cvae] float32
    - output ``logits_BLV`` [batch, L, V] float32
    - ``metadata_props``: ``fpqc.var_config`` (``VARConfig.to_json()``), ``fpqc.route`` (the
      route name) and ``fpqc.class_dropout`` (``"1"`` if the training-time class dropout is in
      the graph, else ``"0"``)
    - weights inline when the model is below ``EXTERNAL_DATA_THRESHOLD`` bytes (100 MB), else
      in one external-data file ``var.onnx.data`` next to it.

    Routes: ``"torchscript"`` — ``torch.onnx.export(dynamo=False, opset_version=opset)`` of the
    released forward, class dropout included (RandomUniformLike / Less / Where in the graph,
    as in REFERENCE §2); ``"fpqc"`` — the same exporter on the inference forward (no dropout,
    deterministic); ``"dynamo"`` — ``torch.onnx.export(dynamo=True, opset_version=opset)`` of the
    released forward (class dropout included; the dynamo exporter's spelling).  ``opset``
    defaults to 18.

``vae.npz``
    A numpy ``.npz`` archive of float32 arrays under their ``VQVAE`` state-dict names — what the
    runtime needs to turn token indices into images:

    - ``quantize.embedding.weight`` [V, Cvae] — the codebook
    - ``quantize.quant_resi.qresi_ls.{j}.weight`` [Cvae, Cvae, 3, 3], ``.bias`` [Cvae] — φ convs
      (φ_j(h) = (1 - quant_resi)·h + quant_resi·conv3x3_j(h), padding 1; the conv for scale k is
      ``j = argmin |ticks_j - k/(K-1)|``, ``ticks = linspace(1/12, 11/12, 4)`` for 4 convs, see
      :func:`fpqc.frontend.var.vqvae.phi_ticks`)
    - ``post_quant_conv.{weight,bias}`` and every ``decoder.*`` parameter (GroupNorm eps 1e-6,
      SiLU, nearest ×2 upsampling, see :class:`fpqc.frontend.var.vqvae.Decoder`)
    - ``__config__``: uint8 array of the UTF-8 JSON of ``VQVAEConfig.to_dict()``
      (decode with ``bytes(arr).decode()``).

    Encoder, ``quant_conv`` and training buffers are not written (generation does not need them).

Everything is written to a temporary directory first and moved into ``out_dir`` at the end.
The exporter's weights are moved into ``var.onnx.data`` one tensor at a time
(:func:`~fpqc.frontend.var.external_data.save_streamed`), with the model freed first, so an
export holds about one copy of the weights (the model's, while torch exports it).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Mapping

import numpy as np
import torch
from tqdm import tqdm

from fpqc.files.npz import read_npz
from fpqc.frontend.onnx_import.onnx_messages import ModelProto, load_model_proto
from fpqc.frontend.var_build_files import CONFIG_METADATA

from .config import VARConfig, VQVAEConfig
from .external_data import save_streamed
from .transformer import VAR
from .vqvae import VQVAE

ROUTES = ("fpqc", "torchscript", "dynamo")
OPSET = 18
EXTERNAL_DATA_THRESHOLD = 100 * 1024 * 1024
DATA_FILE = "var.onnx.data"
INPUT_NAMES = ["label_B", "x_BLCv_wo_first_l"]
OUTPUT_NAMES = ["logits_BLV"]
META_ROUTE, META_DROPOUT = "fpqc.route", "fpqc.class_dropout"


def _load_state(state: Mapping[str, torch.Tensor] | str | os.PathLike | None) -> Mapping[str, torch.Tensor] | None:
    if state is None or isinstance(state, Mapping):
        return state
    return torch.load(state, map_location="cpu", weights_only=True)


def build_models(cfg: VARConfig, var_state=None, vae_state=None, seed: int = 0) -> tuple[VAR, VQVAE]:
    """VAR and VQVAE in eval mode, from state dicts (or ``.pth`` paths; strict) or seeded random."""
    var = VAR(cfg, seed=seed)
    vae = VQVAE(cfg.vae, seed=seed)
    if (s := _load_state(var_state)) is not None:
        var.load_state_dict(s, strict=True)
    if (s := _load_state(vae_state)) is not None:
        vae.load_state_dict(s, strict=True)
    return var.eval(), vae.eval()


def example_inputs(cfg: VARConfig, batch: int = 1, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Seeded ``(label_B [batch] int64, x_BLCv_wo_first_l [batch, L - first_l, Cvae] float32)``."""
    g = torch.Generator().manual_seed(seed)
    label = torch.randint(0, cfg.num_classes, (batch,), generator=g, dtype=torch.long)
    x = torch.randn(batch, cfg.L - cfg.first_l, cfg.Cvae, generator=g)
    return label, x


VAE_NPZ_PREFIXES = ("quantize.embedding.", "quantize.quant_resi.", "post_quant_conv.", "decoder.")
"""The VQVAE arrays ``vae.npz`` keeps: what generation needs (codebook, φ convs, decoder)."""


def vae_npz_arrays(vae: VQVAE) -> dict[str, np.ndarray]:
    """The arrays of ``vae.npz`` (see the module docstring)."""
    state = {k: v.detach().cpu().float().numpy() for k, v in vae.state_dict().items()}
    return vae_npz_arrays_from_state(state, vae.cfg)


def vae_npz_arrays_from_state(state: Mapping[str, np.ndarray], cfg: VQVAEConfig) -> dict[str, np.ndarray]:
    """The arrays of ``vae.npz`` from a VQVAE state dict with the released names and its config."""
    out = {k: np.asarray(v, dtype=np.float32) for k, v in state.items() if k.startswith(VAE_NPZ_PREFIXES)}
    out["__config__"] = np.frombuffer(json.dumps(cfg.to_dict(), sort_keys=True).encode(), dtype=np.uint8).copy()
    return out


def load_vae_npz(path: str | os.PathLike) -> tuple[VQVAEConfig, dict[str, np.ndarray]]:
    """Read ``vae.npz`` back: (config, arrays without ``__config__``)."""
    arrays = read_npz(Path(path), "VQVAE")
    if "__config__" not in arrays:
        raise KeyError("no __config__ array")
    cfg = VQVAEConfig.from_dict(json.loads(bytes(arrays.pop("__config__")).decode()))
    return cfg, arrays


def torch_onnx_export(model: torch.nn.Module, inputs, path: Path, exporter: str, opset: int,
                      external_data: bool = False, **names) -> None:
    """``torch.onnx.export`` of ``model`` to ``path`` as a user calls it, exporter warnings silenced.

    ``exporter`` is ``"dynamo"`` or ``"torchscript"``; ``names`` are ``input_names`` /
    ``output_names`` (none: the exporter's own); ``external_data`` writes dynamo's weights
    beside the file.
    """
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if exporter == "dynamo":
            program = torch.onnx.export(model, inputs, dynamo=True, opset_version=opset, verbose=False,
                                        external_data=external_data, **names)
            program.save(str(path), external_data=external_data)
        else:
            torch.onnx.export(model, inputs, str(path), dynamo=False, opset_version=opset, **names)


def export_var(cfg: VARConfig, out_dir: str | os.PathLike, var_state=None, vae_state=None, route: str = "fpqc",
               batch: int = 1, seed: int = 0, class_dropout: bool | None = None, opset: int = OPSET) -> Path:
    """Write ``var.onnx`` (+ ``var.onnx.data`` when large) and ``vae.npz`` into ``out_dir``.

    :param var_state, vae_state: state dicts with the released names, or paths to ``.pth``
        files; None → seeded random weights
    :param route: ``"fpqc"`` | ``"torchscript"`` | ``"dynamo"`` (see the module docstring)
    :param class_dropout: keep the released class dropout in the graph;
        default: False for ``"fpqc"``, True for the other routes
    :param opset: the ONNX opset to ask the exporter for (dynamo writes at least 18)
    :return: path of ``var.onnx``
    """
    if route not in ROUTES:
        raise ValueError(f"unknown export route {route!r}; choose one of {', '.join(ROUTES)}")
    if class_dropout is None:
        class_dropout = route != "fpqc"
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".fpqc-export-", dir=out_dir))
    try:
        with tqdm(total=3, desc="export-var", unit="step", disable=None, leave=False) as steps:
            steps.set_postfix_str("building the model")
            var, vae = build_models(cfg, var_state, vae_state, seed)
            var.inference = not class_dropout
            nbytes = sum(t.numel() * t.element_size() for t in var.state_dict().values())
            np.savez(tmp / "vae.npz", **vae_npz_arrays(vae))
            del vae
            steps.update()
            steps.set_postfix_str(f"tracing and exporting ({'dynamo' if route == 'dynamo' else 'torchscript'})")
            raw = tmp / "raw" / "var.onnx"
            raw.parent.mkdir()
            torch_onnx_export(var, example_inputs(cfg, batch, seed), raw, "dynamo" if route == "dynamo" else "torchscript",
                              opset, external_data=route == "dynamo", input_names=INPUT_NAMES, output_names=OUTPUT_NAMES)
            del var  # the weights are in the raw export now
            steps.update()
            steps.set_postfix_str("writing the weights")
            model = load_model_proto(raw)
            del model.metadata_props[:]
            for k, v in ((CONFIG_METADATA, cfg.to_json()), (META_ROUTE, route), (META_DROPOUT, "1" if class_dropout else "0")):
                p = model.metadata_props.add()
                p.key, p.value = k, v
            location = DATA_FILE if nbytes > EXTERNAL_DATA_THRESHOLD else None
            with tqdm(total=nbytes, desc="weights", unit="B", unit_scale=True, disable=None, leave=False) as bar:
                save_streamed(model, raw, tmp / "var.onnx", location, progress=bar.update)
            steps.update()
        for name in ("var.onnx", DATA_FILE, "vae.npz"):
            dst = out_dir / name
            if dst.exists():
                dst.unlink()
            if (tmp / name).exists():
                os.replace(tmp / name, dst)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out_dir / "var.onnx"


def op_histogram(path_or_model: str | os.PathLike | ModelProto) -> dict[str, int]:
    """``{op_type: count}`` of the top-level graph, most frequent first."""
    m = path_or_model if isinstance(path_or_model, ModelProto) else load_model_proto(Path(path_or_model))
    hist: dict[str, int] = {}
    for n in m.graph.node:
        hist[n.op_type] = hist.get(n.op_type, 0) + 1
    return dict(sorted(hist.items(), key=lambda kv: (-kv[1], kv[0])))


__all__ = ["export_var", "torch_onnx_export", "build_models", "example_inputs", "vae_npz_arrays", "vae_npz_arrays_from_state",
           "VAE_NPZ_PREFIXES", "load_vae_npz", "op_histogram",
           "ROUTES", "OPSET", "INPUT_NAMES", "OUTPUT_NAMES"]
