"""The files a VAR build carries beside its IR: its configuration and its VQVAE.

``fpqc export-var`` records the VAR's configuration in the ONNX metadata
(``fpqc.var_config``) and writes the VQVAE the runtime needs as ``vae.npz``
beside ``var.onnx``.  An export of the released code has neither: its
configuration is read off the raised graph
(:func:`~fpqc.frontend.var.infer_config.infer_var_config`) and its VQVAE is the
released checkpoint the user names (``--vae vae_ch160v4096z32.pth``).  A build
holds both (``var_config.json``, ``vae.npz``) so that ``fpqc generate BUILD``
needs nothing outside the build.  Models that are not VARs carry nothing.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from xdsl.dialects.builtin import ModuleOp

from fpqc.errors import FpqcError
from fpqc.frontend.onnx_import.onnx_messages import load_model_proto
from fpqc.frontend.var.infer_config import infer_var_config
from fpqc.frontend.var.vqvae_checkpoint import config_fields, load_state_dict, vqvae_config_from_state

CONFIG_METADATA = "fpqc.var_config"
CONFIG_FILE = "var_config.json"
VAE_FILE = "vae.npz"
CHECKPOINT_SUFFIXES = (".pth", ".pt")


def fpqc_metadata(model: Path) -> dict[str, str]:
    """The ``fpqc.*`` metadata of an ONNX file (its VAR configuration, export route)."""
    try:
        proto = load_model_proto(model)
    except Exception as e:  # onnx raises DecodeError, OSError, ... for unreadable files
        raise FpqcError(f"{model}: not a readable ONNX file ({e})") from None
    return {p.key: p.value for p in proto.metadata_props if p.key.startswith("fpqc.")}


@dataclass(frozen=True)
class VarBuildFiles:
    """A VAR's configuration (as a dict of :class:`VARConfig` fields) and its VQVAE file, if any."""

    config: dict
    vae: Path | None

    @staticmethod
    def of(model: Path, raised: ModuleOp | None = None, vae: Path | None = None) -> VarBuildFiles | None:
        """The files of ``model``, or None if it is not a VAR.

        An fpqc export's metadata gives the configuration, else the raised graph
        ``raised`` does (when given); the VQVAE is ``vae`` (``vae.npz`` or a released
        ``.pth``), else ``vae.npz`` beside the model.
        """
        beside = model.parent / VAE_FILE
        vae = vae or (beside if beside.is_file() else None)
        metadata = fpqc_metadata(model)
        if CONFIG_METADATA in metadata:
            return VarBuildFiles(json.loads(metadata[CONFIG_METADATA]), vae)
        if raised is None:
            return None
        config = infer_var_config(raised, model)
        if vae is not None and vae.suffix in CHECKPOINT_SUFFIXES:
            vae_config = vqvae_config_from_state(load_state_dict(vae), config.patch_nums, vae)
            config = dataclasses.replace(config, **config_fields(vae_config))
        return VarBuildFiles(config.to_dict(), vae)

    @property
    def depth(self) -> int | None:
        """The number of transformer blocks the configuration declares."""
        return self.config.get("depth")

    def write(self, build: Path) -> None:
        """``var_config.json`` and ``vae.npz`` (a released checkpoint converted) into ``build``."""
        (build / CONFIG_FILE).write_text(json.dumps(self.config, indent=2, sort_keys=True) + "\n")
        if self.vae is None:
            return
        if self.vae.suffix not in CHECKPOINT_SUFFIXES:
            shutil.copyfile(self.vae, build / VAE_FILE)
            return
        from fpqc.frontend.var.export import vae_npz_arrays_from_state  # imports torch

        state = load_state_dict(self.vae)
        vae_config = vqvae_config_from_state(state, tuple(self.config["patch_nums"]), self.vae)
        with open(build / VAE_FILE, "wb") as f:
            np.savez(f, **vae_npz_arrays_from_state(state, vae_config))
