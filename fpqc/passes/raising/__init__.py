"""The rewrite patterns of ``raise-onnx-to-fpq``, one module per concept."""
