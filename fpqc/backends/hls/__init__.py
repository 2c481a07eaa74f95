"""The HLS backend: hls-level IR to Vitis HLS C++, packed weights, host schedule and build files (``build.emit_build``); their C simulation (``csim``)."""
