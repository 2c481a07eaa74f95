"""The shipped digits VAR (examples/digits): ONNX runs in onnxruntime and predicts the
teacher-forced tokens, the classifier meets its accuracy, and train.py runs end to end."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[3]
DIGITS = ROOT / "examples" / "digits"
TF_TOP1_FLOOR = 0.4  # shipped model: 0.511; teacher-forced next-token top-1 on the 10 shipped held-out digits


def _needs(*names: str) -> None:
    """The shipped artifacts are part of the repository: a missing one is a failure."""
    for n in names:
        assert (DIGITS / n).exists(), f"examples/digits/{n} is missing; rerun examples/digits/train.py"


def test_onnx_runs_and_predicts_teacher_forced_tokens():
    _needs("var.onnx", "inputs.npz", "vae.pth")
    import onnx
    import onnxruntime as ort
    import torch

    from fpqc.frontend.var.config import VARConfig
    from fpqc.frontend.var.vqvae import VQVAE

    model = onnx.load(str(DIGITS / "var.onnx"))
    onnx.checker.check_model(model)
    meta = {p.key: p.value for p in model.metadata_props}
    cfg = VARConfig.from_json(meta["fpqc.var_config"])
    assert meta["fpqc.route"] == "fpqc" and meta["fpqc.class_dropout"] == "0"
    assert cfg.C % 128 == 0 and cfg.num_classes == 10
    assert (DIGITS / "var.onnx").stat().st_size <= 8 * 1024 * 1024

    inputs = np.load(DIGITS / "inputs.npz")
    feeds = {i.name: inputs[i.name] for i in model.graph.input}
    assert feeds["label_B"].dtype == np.int64 and feeds["label_B"].tolist() == list(range(10))
    assert feeds["x_BLCv_wo_first_l"].shape == (10, cfg.L - cfg.first_l, cfg.Cvae)
    sess = ort.InferenceSession(str(DIGITS / "var.onnx"), providers=["CPUExecutionProvider"])
    (logits,) = sess.run(None, feeds)
    assert logits.shape == (10, cfg.L, cfg.vocab_size)
    assert np.isfinite(logits).all()

    # the teacher-forced targets: re-tokenize the same held-out digits with the shipped VQVAE
    from fpqc.eval.digits_classifier import digits_images

    x01, y = digits_images(cfg.image_size)
    idx = inputs["heldout_index"]
    assert y[idx].tolist() == list(range(10))
    vae = VQVAE(cfg.vae, seed=None)
    vae.load_state_dict(torch.load(DIGITS / "vae.pth", map_location="cpu", weights_only=True))
    vae.eval()
    with torch.no_grad():
        idx_list = vae.img_to_idxBl((x01[idx] * 2 - 1).expand(-1, 3, -1, -1))
        x_in = vae.idxBl_to_var_input(idx_list).numpy()
    np.testing.assert_allclose(x_in, feeds["x_BLCv_wo_first_l"], atol=1e-5)
    target = torch.cat(idx_list, 1).numpy()
    top1 = float((logits.argmax(-1) == target).mean())
    print(f"teacher-forced next-token top-1 on the shipped inputs: {top1:.3f}")
    assert top1 >= TF_TOP1_FLOOR


def test_classifier_heldout_accuracy():
    _needs("classifier.pt")
    import torch

    from fpqc.eval.digits_classifier import FEATURE_DIM, digits_split, load_digits_classifier

    clf = load_digits_classifier(DIGITS / "classifier.pt")
    s = digits_split()
    assert len(s.y_test) == 360 and len(s.y_train) == 1437
    acc = float((clf.predict(s.x_test) == s.y_test).float().mean())
    print(f"classifier held-out accuracy: {acc:.4f}")
    assert acc >= 0.95
    with torch.no_grad():
        f = clf.features(s.x_test[:4].expand(-1, 3, -1, -1))  # RGB input is averaged
    assert f.shape == (4, FEATURE_DIM)


def test_metrics_recorded():
    _needs("metrics.json")
    m = json.loads((DIGITS / "metrics.json").read_text())
    assert m["classifier"]["heldout_acc"] >= 0.95
    assert m["samples"]["scored_acc"] >= 0.7


def test_train_quick(tmp_path):
    r = subprocess.run([sys.executable, str(DIGITS / "train.py"), "--quick", "--out", str(tmp_path)],
                       capture_output=True, text=True, timeout=900, cwd=ROOT)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    for name in ("var.onnx", "vae.npz", "var.pth", "vae.pth", "classifier.pt", "inputs.npz", "samples.png",
                 "metrics.json"):
        assert (tmp_path / name).exists(), name
    assert (tmp_path / "samples.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    from fpqc.frontend.var.export import load_vae_npz

    vcfg, arrays = load_vae_npz(tmp_path / "vae.npz")
    assert vcfg.patch_nums == (1, 2, 3, 4, 6, 8) and "quantize.embedding.weight" in arrays
