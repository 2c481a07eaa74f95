"""Where compiled IR runs: the numpy interpreter (``interp``) and the Vitis HLS C++ backend (``hls``)."""
