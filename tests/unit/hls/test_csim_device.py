"""The C simulation as a device: kernel launches through ctypes give the interpreter's results, bit for bit."""

import numpy as np
import pytest

from fpqc.backends.hls.csim_device import CsimDevice
from fpqc.backends.interp.runner import run_function
from fpqc.errors import FpqcError

from conftest import lower, residual_blocks, write_build


def test_schedule_on_the_csim_device_matches_the_interpreter(tmp_path):
    module, store = residual_blocks(blocks=2, t=6)
    lower(module)
    write_build(tmp_path, module, store)
    device = CsimDevice(tmp_path)
    launches = []

    def launch(call, args):
        launches.append(call.callee.string_value())
        return device.launch(call.callee.string_value(), args)

    rng = np.random.default_rng(1)
    for scale in (1.0, 30.0):  # several calls of the same kernels in one process
        x = (scale * rng.standard_normal((6, 128))).astype(np.float32)
        (want,) = run_function(module, "main", (x,), store)
        (got,) = run_function(module, "main", (x,), store, launcher=launch)
        assert np.array_equal(want.view(np.uint32), got.view(np.uint32))
    assert len(launches) == 8  # 2 blocks x 2 linears x 2 runs, on 2 kernels


def test_a_launch_with_the_wrong_shape_is_refused(tmp_path):
    module, store = residual_blocks(blocks=1, t=4)
    lower(module)
    write_build(tmp_path, module, store)
    device = CsimDevice(tmp_path)
    with pytest.raises(FpqcError, match="expects"):
        device.launch("kernel_0", (np.zeros((5, 128), np.float32),) + (np.zeros(1),) * 3)
