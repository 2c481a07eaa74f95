"""export_var: three routes run in onnxruntime and match torch; graph contents; files."""

from __future__ import annotations


import numpy as np
import onnx
import pytest
import torch

from fpqc.frontend.var import VAR, VARConfig, VQVAE
from fpqc.frontend.var import export as ex
from fpqc.frontend.var.export import export_var, load_vae_npz, op_histogram

ort = pytest.importorskip("onnxruntime")

CFG = VARConfig.tiny(cond_drop_rate=0.0)  # dropout in the graph but never firing


def _state():
    var = VAR(CFG, seed=0)
    var.init_weights(seed=1, init_adaln_gamma=0.5, init_head=1.0)
    return var.eval()


def _run(path, label, x):
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert [i.name for i in sess.get_inputs()] == ["label_B", "x_BLCv_wo_first_l"]
    assert [o.name for o in sess.get_outputs()] == ["logits_BLV"]
    return sess.run(None, {"label_B": label.numpy(), "x_BLCv_wo_first_l": x.numpy()})[0]


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    var = _state()
    out = {}
    for route in ex.ROUTES:
        out[route] = export_var(CFG, tmp_path_factory.mktemp(route), var_state=var.state_dict(), route=route, batch=2)
    return var, out


@pytest.mark.parametrize("route", ex.ROUTES)
def test_routes_match_torch_inference_forward(exported, route):
    var, paths = exported
    label = torch.tensor([3, 10])  # 10 = the null class
    x = torch.randn(2, CFG.L - 1, CFG.Cvae, generator=torch.Generator().manual_seed(5))
    var.inference = True
    with torch.no_grad():
        ref = var(label, x).numpy()
    got = _run(paths[route], label, x)
    assert got.shape == (2, CFG.L, CFG.vocab_size)
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-4)
    m = onnx.load(str(paths[route]))
    meta = {p.key: p.value for p in m.metadata_props}
    assert VARConfig.from_json(meta["fpqc.var_config"]) == CFG
    assert meta["fpqc.route"] == route
    assert meta["fpqc.class_dropout"] == ("0" if route == "fpqc" else "1")
    for v in list(m.graph.input) + list(m.graph.output):  # static shapes
        assert all(d.HasField("dim_value") for d in v.type.tensor_type.shape.dim)
    assert not (paths[route].parent / "var.onnx.data").exists()


def test_torchscript_graph_has_released_spelling(exported):
    _, paths = exported
    hist = op_histogram(paths["torchscript"])
    for op in ("ReduceL2", "RandomUniformLike", "Less", "Where", "Softmax", "LayerNormalization", "Tanh",
               "Sigmoid", "Gemm", "MatMul", "Exp", "Clip"):
        assert op in hist, op
    assert hist["LayerNormalization"] == 2 * CFG.depth + 1
    assert hist["Softmax"] == hist["Exp"] == hist["Tanh"] == CFG.depth
    assert hist["ReduceL2"] == 2 * CFG.depth
    assert hist["Gemm"] == CFG.depth + 1
    fpqc_hist = op_histogram(paths["fpqc"])
    assert "RandomUniformLike" not in fpqc_hist and "Less" not in fpqc_hist


def test_vae_npz(exported):
    _, paths = exported
    cfg, arrays = load_vae_npz(paths["fpqc"].parent / "vae.npz")
    assert cfg == CFG.vae
    vae = VQVAE(CFG.vae, seed=0)  # export used seed 0 for the VAE too
    sd = vae.state_dict()
    assert arrays["quantize.embedding.weight"].shape == (CFG.vocab_size, CFG.Cvae)
    for j in range(4):
        assert f"quantize.quant_resi.qresi_ls.{j}.weight" in arrays
    assert not any(k.startswith(("encoder.", "quant_conv.")) for k in arrays)
    expected = {k for k in sd if k.startswith(("decoder.", "post_quant_conv.", "quantize.quant_resi."))}
    assert expected | {"quantize.embedding.weight"} == set(arrays)
    for k, v in arrays.items():
        np.testing.assert_array_equal(v, sd[k].numpy())


def test_external_data_when_large(tmp_path, monkeypatch):
    monkeypatch.setattr(ex, "EXTERNAL_DATA_THRESHOLD", 1000)
    p = export_var(CFG, tmp_path, route="fpqc")
    assert (tmp_path / "var.onnx.data").exists()
    assert sorted(f.name for f in tmp_path.iterdir()) == ["vae.npz", "var.onnx", "var.onnx.data"]
    label, x = ex.example_inputs(CFG, 1, seed=0)
    var, _ = ex.build_models(CFG, seed=0)
    var.inference = True
    with torch.no_grad():
        ref = var(label, x).numpy()
    np.testing.assert_allclose(_run(p, label, x), ref, rtol=1e-4, atol=1e-4)


def test_bad_route(tmp_path):
    with pytest.raises(ValueError, match="unknown export route"):
        export_var(CFG, tmp_path, route="tflite")
