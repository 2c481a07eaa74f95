"""Generation quality of a quantized VAR: FID and IS from the project's digit classifier.

For the float model and each recipe, :class:`~fpqc.runtime.var_runtime.VarRuntime`
generates ``per_class`` images of every class with the same seeds and settings
(the quantized model runs in the interpreter, bit-exact with the FPGA kernels).
The digit classifier trained with the model (``classifier.pt`` beside it)
gives each image a feature vector (its penultimate layer) and class
probabilities, from which:

* **FID** -- Fréchet distance between the Gaussians fitted to the features of
  the generated images and of the real digits (scikit-learn's bundled set,
  every image): ``‖μ₁−μ₂‖² + Tr(Σ₁ + Σ₂ − 2(Σ₁Σ₂)^½)``, the trace of the root
  computed from the eigenvalues of Σ₁Σ₂;
* **IS** -- ``exp(mean KL(p(y|x) ‖ p(y)))`` over the generated images (at most
  10 for a 10-class classifier);
* **accuracy** -- the fraction of images the classifier assigns to the
  requested class.

These are FID/IS-*style* scores: the feature extractor is a small digit
classifier, not Inception, so the numbers compare recipes on this model and
are not comparable with the paper's ImageNet figures.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from fpqc.compiler import load_onnx, run_pipeline
from fpqc.errors import FpqcError
from fpqc.passes.pipelines import RAISE_PIPELINE, RECIPES, STEP_PIPELINE
from fpqc.runtime.model import VarModel
from fpqc.runtime.progress import ScaleProgress, scale_bar
from fpqc.runtime.var_runtime import VarRuntime


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """FID between two feature sets ``[n, d]`` (see module docstring)."""
    mu_a, mu_b = a.mean(axis=0), b.mean(axis=0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    eigenvalues = np.linalg.eigvals(cov_a @ cov_b)
    root_trace = np.sqrt(np.clip(eigenvalues.real, 0.0, None)).sum()
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b) - 2.0 * root_trace)


def inception_score(probabilities: np.ndarray) -> float:
    """``exp(mean KL(p(y|x) ‖ p(y)))`` for class probabilities ``[n, classes]``."""
    p = np.clip(probabilities.astype(np.float64), 1e-12, 1.0)
    marginal = p.mean(axis=0, keepdims=True)
    return float(np.exp((p * (np.log(p) - np.log(marginal))).sum(axis=1).mean()))


class DigitScorer:
    """Features, probabilities and reference statistics from the digit classifier."""

    def __init__(self, classifier_path: Path) -> None:
        from fpqc.eval.digits_classifier import digits_images, load_digits_classifier

        if not classifier_path.is_file():
            raise FpqcError(f"{classifier_path}: no such file (the digit classifier for FID/IS)")
        self.classifier = load_digits_classifier(classifier_path)
        images, _ = digits_images()
        self.real_features = self.features(images)

    @torch.no_grad()
    def features(self, images: torch.Tensor) -> np.ndarray:
        return self.classifier.features(images).numpy()

    @torch.no_grad()
    def score(self, images: np.ndarray, labels: np.ndarray) -> tuple[dict[str, float], np.ndarray]:
        """FID, IS and accuracy of generated ``images [N, H, W, C]`` in [0, 1], and their features."""
        batch = torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2)))
        probabilities = torch.softmax(self.classifier(batch), dim=-1).numpy()
        features = self.features(batch)
        scores = {
            "FID": frechet_distance(features, self.real_features),
            "IS": inception_score(probabilities),
            "accuracy": float((probabilities.argmax(axis=1) == labels).mean()),
        }
        return scores, features


def _runtime(model: Path, pipeline: str | None, vae: Path | None) -> VarRuntime:
    """The float model (``pipeline`` None) or the model quantized by ``pipeline``, with the VQVAE ``vae``."""
    if pipeline is None:
        return VarRuntime.load(model, vae)
    reference = VarModel.load(model, vae)
    module, store = load_onnx(model)
    with store.activate():
        run_pipeline(module, f"{RAISE_PIPELINE},{pipeline},{STEP_PIPELINE}", "quantize")
    quantized = VarModel(module, store, reference.config, reference.inputs, reference.vae, True, reference.source)
    return VarRuntime(quantized, reference.vqvae())


def evaluate_generation(
    model: Path,
    recipes: list[str],
    classifier: Path,
    per_class: int,
    calib: Path | None = None,
    seeds: tuple[int, ...] = (0,),
    cfg: float = 3.0,
    vae: Path | None = None,
) -> dict[str, dict[str, float]]:
    """Scores of the float model (key ``"float"``) and of each recipe (``vae``: see :class:`VarModel`).

    Every model generates ``per_class`` images of each class once per seed of
    ``seeds`` (the token draws; a recipe's Hadamard signs are seed 0's); the
    scores are the means over the seeds, and with several seeds ``FID sd`` is
    the standard deviation of the FID-style score across them.  A recipe also
    gets ``FID to float``: the Fréchet distance between its images' features
    and the float model's images of the same seed and classes (how far
    quantization moved what the model draws), with ``FID to float sd``.
    """
    if not seeds:
        raise FpqcError("give at least one seed for the generated images")
    scorer = DigitScorer(classifier)
    pipelines: dict[str, str | None] = {"float": None}
    pipelines.update({name: RECIPES[name].pipeline(calib) for name in recipes})
    scores = {}
    float_features: dict[int, np.ndarray] = {}
    for name, pipeline in pipelines.items():
        runtime = _runtime(model, pipeline, vae)
        labels = np.repeat(np.arange(runtime.config.num_classes), per_class)
        runs = []
        for seed in seeds:
            with scale_bar(f"generate {name} (seed {seed})", len(runtime.schedule)) as bar:
                generated = runtime.generate(labels, seed=seed, cfg=cfg, observers=(ScaleProgress(bar),))
            run, features = scorer.score(generated.images, generated.labels)
            if pipeline is None:
                float_features[seed] = features
            else:
                run["FID to float"] = frechet_distance(features, float_features[seed])
            runs.append(run)
        scores[name] = {key: float(np.mean([run[key] for run in runs])) for key in runs[0]}
        if len(runs) > 1:
            for key in ("FID", "FID to float"):
                if key in runs[0]:
                    scores[name][f"{key} sd"] = float(np.std([run[key] for run in runs]))
    return scores
