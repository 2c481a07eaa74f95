"""Running a compiled VAR: per-scale schedule, sampling, host VQVAE, calibration.

- :mod:`.schedule` — the list of scale steps generation walks (:class:`ScaleStep`).
- :mod:`.model` — :class:`VarModel`: the teacher-forcing graph of an ONNX file (raised to
  float ``fpq``) or of a build (quantized), run in the interpreter in static batches.
- :mod:`.sampling` — classifier-free guidance, top-k / top-p, seeded numpy draws, in a fixed fp32 order.
- :mod:`.host_vqvae` — :class:`HostVQVAE`: codebook, φ convs and decoder from ``vae.npz``.
- :mod:`.var_runtime` — :class:`VarRuntime`: ``load(path)`` and ``generate(labels, seed, ...)``.
- :mod:`.calibrate` — FPQVAR's calibration statistics per linear layer and per scale.
- :mod:`.cpp_host` — generation by a build's C++ host program; :mod:`.host_library` — the VQVAE it
  calls back (``python -m fpqc.runtime.host_library BUILD``).
"""

from fpqc.runtime.model import RunObserver, VarModel
from fpqc.runtime.schedule import ScaleStep, teacher_forcing_schedule
from fpqc.runtime.var_runtime import Generation, VarRuntime

__all__ = ["VarRuntime", "Generation", "VarModel", "RunObserver", "ScaleStep", "teacher_forcing_schedule"]
