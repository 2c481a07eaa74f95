"""A transformer block's AdaLN-modulated mat_qkv and fc1 inputs, as fpq IR, for the FPQVAR pass tests.

``block_ir(tokens)`` is the IR; ``block_weights()`` the weight store's arrays.
In program order the linears are: 0 ada_lin, 1 mat_qkv, 2 fc1.
"""

from __future__ import annotations

import numpy as np

C, K_COND = 256, 32


def block_ir(tokens: int) -> str:
    return f"""
func.func @main(%x: tensor<1x{tokens}x{C}xf32>, %c: tensor<1x{K_COND}xf32>)
    -> (tensor<1x{tokens}x{3 * C}xf32>, tensor<1x{tokens}x{2 * C}xf32>, tensor<1x1x{C}xf32>) {{
  %s = fpq.silu %c : tensor<1x{K_COND}xf32>
  %wa = fpq.constant dense_resource<ada.weight> : tensor<{6 * C}x{K_COND}xf32>
  %ba = fpq.constant dense_resource<ada.bias> : tensor<{6 * C}xf32>
  %a = fpq.linear %s, %wa, %ba {{fpq.role = "ada_lin"}} : (tensor<1x{K_COND}xf32>, tensor<{6 * C}x{K_COND}xf32>, tensor<{6 * C}xf32>) -> tensor<1x{6 * C}xf32>
  %g1, %g2, %sc1, %sc2, %sh1, %sh2 = fpq.split %a : tensor<1x{6 * C}xf32> -> (tensor<1x1x{C}xf32>, tensor<1x1x{C}xf32>, tensor<1x1x{C}xf32>, tensor<1x1x{C}xf32>, tensor<1x1x{C}xf32>, tensor<1x1x{C}xf32>)
  %n = fpq.layernorm %x {{eps = 1.0e-06 : f32}} : tensor<1x{tokens}x{C}xf32>
  %m1 = fpq.modulate %n, %sc1, %sh1 : (tensor<1x{tokens}x{C}xf32>, tensor<1x1x{C}xf32>, tensor<1x1x{C}xf32>) -> tensor<1x{tokens}x{C}xf32>
  %wq = fpq.constant dense_resource<qkv.weight> : tensor<{3 * C}x{C}xf32>
  %bq = fpq.constant dense_resource<qkv.bias> : tensor<{3 * C}xf32>
  %q = fpq.linear %m1, %wq, %bq {{fpq.role = "mat_qkv"}} : (tensor<1x{tokens}x{C}xf32>, tensor<{3 * C}x{C}xf32>, tensor<{3 * C}xf32>) -> tensor<1x{tokens}x{3 * C}xf32>
  %m2 = fpq.modulate %n, %sc2, %sh2 : (tensor<1x{tokens}x{C}xf32>, tensor<1x1x{C}xf32>, tensor<1x1x{C}xf32>) -> tensor<1x{tokens}x{C}xf32>
  %w1 = fpq.constant dense_resource<fc1.weight> : tensor<{2 * C}x{C}xf32>
  %b1 = fpq.constant dense_resource<fc1.bias> : tensor<{2 * C}xf32>
  %h = fpq.linear %m2, %w1, %b1 {{fpq.role = "fc1"}} : (tensor<1x{tokens}x{C}xf32>, tensor<{2 * C}x{C}xf32>, tensor<{2 * C}xf32>) -> tensor<1x{tokens}x{2 * C}xf32>
  func.return %q, %h, %g1 : tensor<1x{tokens}x{3 * C}xf32>, tensor<1x{tokens}x{2 * C}xf32>, tensor<1x1x{C}xf32>
}}
"""


def block_weights(outlier_channels: tuple[int, ...] = (), outlier_bias: float = 25.0) -> dict[str, np.ndarray]:
    """Seeded weights; ``outlier_channels`` get a large AdaLN scale (outliers after modulation)."""
    rng = np.random.default_rng(11)
    shapes = {"ada": (6 * C, K_COND), "qkv": (3 * C, C), "fc1": (2 * C, C)}
    out = {}
    for name, shape in shapes.items():
        out[f"{name}.weight"] = (rng.standard_normal(shape) / np.sqrt(shape[1])).astype(np.float32)
        out[f"{name}.bias"] = (0.5 * rng.standard_normal(shape[0])).astype(np.float32)
    for chunk in (2, 3):  # the scale chunks sc1, sc2
        out["ada.bias"][chunk * C + np.array(outlier_channels, dtype=np.int64)] += outlier_bias
    return out
