"""The files a build of an fpqc-exported VAR carries beside its IR.

``fpqc export-var`` records the VAR's configuration in the ONNX metadata
(``fpqc.var_config``) and writes the VQVAE the runtime needs as ``vae.npz``
beside ``var.onnx``.  A build copies both (``var_config.json``, ``vae.npz``)
so that ``fpqc generate BUILD`` needs nothing outside the build.  Models that
are not VAR exports carry nothing.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from fpqc.errors import FpqcError

CONFIG_METADATA = "fpqc.var_config"
CONFIG_FILE = "var_config.json"
VAE_FILE = "vae.npz"


def fpqc_metadata(model: Path) -> dict[str, str]:
    """The ``fpqc.*`` metadata of an ONNX file (its VAR configuration, export route)."""
    import onnx

    try:
        proto = onnx.load(str(model), load_external_data=False)
    except Exception as e:  # onnx raises DecodeError, OSError, ... for unreadable files
        raise FpqcError(f"{model}: not a readable ONNX file ({e})") from None
    return {p.key: p.value for p in proto.metadata_props if p.key.startswith("fpqc.")}


@dataclass(frozen=True)
class VarBuildFiles:
    """A VAR export's configuration (as exported) and the ``vae.npz`` beside it, if any."""

    config: dict
    vae: Path | None

    @staticmethod
    def of(model: Path) -> VarBuildFiles | None:
        """The files for ``model``, or None if it is not a VAR exported by fpqc."""
        metadata = fpqc_metadata(model)
        if CONFIG_METADATA not in metadata:
            return None
        vae = model.parent / VAE_FILE
        return VarBuildFiles(json.loads(metadata[CONFIG_METADATA]), vae if vae.is_file() else None)

    @property
    def depth(self) -> int | None:
        """The number of transformer blocks the configuration declares."""
        return self.config.get("depth")

    def write(self, build: Path) -> None:
        (build / CONFIG_FILE).write_text(json.dumps(self.config, indent=2, sort_keys=True) + "\n")
        if self.vae is not None:
            shutil.copyfile(self.vae, build / VAE_FILE)
