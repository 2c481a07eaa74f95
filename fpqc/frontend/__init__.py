"""Models into IR: the ONNX importer, and the reference VAR with its exporter."""
