"""fpqc's dialects: ``onnx`` (one op per ONNX node), ``fpq`` (low-bit float types and ops), ``hls`` (kernels)."""
