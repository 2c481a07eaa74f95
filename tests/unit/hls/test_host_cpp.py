"""The C++ host program's arithmetic against fpqc's Python, bit for bit: numpy's generator, guidance and
top-k/top-p sampling, the float linear layer, the other host ops and the schedule's fingerprint
(host_driver.cpp runs them)."""

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from fpqc.backends.hls.host_program import SOURCE_DIR, fingerprint
from fpqc.backends.hls.build import INCLUDE_DIR
from fpqc.dialects.onnx.semantics import evaluate
from fpqc.numerics import silu_f32
from fpqc.numerics.float_linear import linear_f32
from fpqc.runtime.sampling import guided_logits, sample_tokens

DRIVER = Path(__file__).parent / "host_driver.cpp"
SOURCES = ["json.cpp", "tensor.cpp", "host_ops.cpp", "sampling.cpp", "fingerprint.cpp"]


@pytest.fixture(scope="module")
def driver(tmp_path_factory):
    """host_driver.cpp and the host sources it uses, compiled as the host program is (and warning-free)."""
    work = tmp_path_factory.mktemp("host_driver")
    exe = work / "driver"
    build = subprocess.run(
        ["g++", "-std=gnu++14", "-O2", "-ffp-contract=off", "-fno-fast-math", "-Wall", "-Wextra", "-pedantic",
         "-Werror", f"-I{SOURCE_DIR}", f"-I{INCLUDE_DIR}", str(DRIVER), *(str(SOURCE_DIR / s) for s in SOURCES),
         "-o", str(exe)], capture_output=True, text=True)
    assert build.returncode == 0, build.stderr[-4000:]

    def run(case: dict, dtype=np.float32) -> np.ndarray:
        spec, out = work / "case.json", work / "out.bin"
        spec.write_text(json.dumps(case))
        result = subprocess.run([str(exe), str(spec), str(out)], capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
        return np.fromfile(out, dtype=np.uint8)

    return run


def _tensor(array: np.ndarray) -> dict:
    dtype = "f32" if array.dtype == np.float32 else "int64"
    return {"dtype": dtype, "shape": list(array.shape), "data": array.reshape(-1).tolist()}


def _result(shape, dtype=np.float32) -> dict:
    return {"dtype": "f32" if dtype == np.float32 else "int64", "shape": list(shape)}


def _op(driver, op: str, args: list[np.ndarray], results: list[tuple], slots=None) -> list[np.ndarray]:
    raw = driver({"mode": "op", "op": op, "args": [_tensor(a) for a in args],
                  "slots": slots if slots is not None else list(range(len(args))),
                  "results": [_result(shape, dtype) for shape, dtype in results]})
    out, offset = [], 0
    for shape, dtype in results:
        n = int(np.prod(shape)) * np.dtype(dtype).itemsize
        out.append(raw[offset:offset + n].view(dtype).reshape(shape))
        offset += n
    return out


@pytest.mark.parametrize("seed", [0, 1, 12345, 2**32 + 5, 2**64 - 1])
def test_numpy_generator_draws_default_rngs_doubles(driver, seed):
    mine = driver({"mode": "rng", "seed": str(seed), "count": 50}).view(np.float64)
    np.testing.assert_array_equal(mine, np.random.default_rng(seed).random(50))


@pytest.mark.parametrize("top_k, top_p", [(0, 0.0), (5, 0.0), (0, 0.8), (7, 0.6), (200, 0.99), (1, 0.0)])
def test_guidance_and_sampling_draw_the_python_tokens(driver, top_k, top_p):
    rng = np.random.default_rng(top_k)
    rows, vocab = 64, 100
    cond = (rng.standard_normal((rows, vocab)) * 3).astype(np.float32)
    uncond = (rng.standard_normal((rows, vocab)) * 3).astype(np.float32)
    cond[:, 10:14] = cond[:, 10:11]  # ties, which top-k keeps and top-p sorts stably
    cond[3] = -np.inf
    cond[3, 7] = 2.0
    raw = driver({"mode": "sample", "cond": cond.reshape(-1).tolist(), "uncond": uncond.reshape(-1).tolist(),
                  "vocab": vocab, "seed": "9", "cfg": 1.5, "ratio": 4 / 9, "top_k": top_k, "top_p": top_p})
    guided = guided_logits(cond, uncond, 1.5, 4 / 9)
    mine_guided = raw[:guided.nbytes].view(np.float32).reshape(guided.shape)
    np.testing.assert_array_equal(mine_guided.view(np.uint32), guided.view(np.uint32))
    tokens = sample_tokens(guided, np.random.default_rng(9), top_k, top_p)
    np.testing.assert_array_equal(raw[guided.nbytes:].view(np.int64), tokens)


def test_float_linear_is_the_left_to_right_sum(driver):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((3, 5, 40)).astype(np.float32)
    x[0, 0, :3] = [2.0**60, 1.0, -(2.0**60)]  # a sum whose order matters
    w = rng.standard_normal((24, 40)).astype(np.float32)
    w[:, :3] = 1.0
    bias = rng.standard_normal(24).astype(np.float32)
    (y,) = _op(driver, "fpq.linear", [x, w, bias], [((3, 5, 24), np.float32)])
    np.testing.assert_array_equal(y.view(np.uint32), linear_f32(x, w, bias).view(np.uint32))
    (y,) = _op(driver, "fpq.linear", [x, w], [((3, 5, 24), np.float32)])
    np.testing.assert_array_equal(y.view(np.uint32), linear_f32(x, w).view(np.uint32))


def _onnx(op: str, inputs: list) -> np.ndarray:
    return evaluate(op, inputs, {})[0]


def test_data_movement_ops_match_the_interpreter(driver):
    rng = np.random.default_rng(3)
    data = rng.standard_normal((2, 7, 6)).astype(np.float32)
    i64 = lambda *v: np.array(v, np.int64)  # noqa: E731
    for starts, ends, axes, steps in [
        (i64(1), i64(5), i64(1), None),
        (i64(-3, 0), i64(2**63 - 1, 4), i64(1, 2), None),
        (i64(6, 5), i64(-(2**63), 0), i64(1, 2), i64(-2, -1)),
    ]:
        want = _onnx("Slice", [data, starts, ends, axes, steps])
        args = [data, starts, ends, axes] + ([steps] if steps is not None else [])
        (got,) = _op(driver, "onnx.Slice", args, [(want.shape, np.float32)])
        np.testing.assert_array_equal(got, want)
    want = _onnx("Slice", [data, i64(2), i64(4)])  # no axes: the leading ones
    (got,) = _op(driver, "onnx.Slice", [data, i64(2), i64(4)], [(want.shape, np.float32)])
    np.testing.assert_array_equal(got, want)
    want = _onnx("Slice", [data, i64(1), i64(3), None, i64(1)])  # steps without axes: a gap in the slots
    (got,) = _op(driver, "onnx.Slice", [data, i64(1), i64(3), i64(1)], [(want.shape, np.float32)], slots=[0, 1, 2, 4])
    np.testing.assert_array_equal(got, want)

    small = rng.standard_normal((1, 7, 1)).astype(np.float32)
    (got,) = _op(driver, "onnx.Add", [data, small], [((2, 7, 6), np.float32)])
    np.testing.assert_array_equal(got.view(np.uint32), (data + small).view(np.uint32))
    (got,) = _op(driver, "onnx.Add", [i64(1, 2, 3), i64(10)], [((3,), np.int64)])
    np.testing.assert_array_equal(got, [11, 12, 13])
    (got,) = _op(driver, "onnx.Expand", [small, i64(3, 7, 4)], [((3, 7, 4), np.float32)])
    np.testing.assert_array_equal(got, np.broadcast_to(small, (3, 7, 4)))
    (got,) = _op(driver, "onnx.Unsqueeze", [data, i64(1)], [((2, 1, 7, 6), np.float32)])
    np.testing.assert_array_equal(got, data[:, None])

    table = rng.standard_normal((11, 4)).astype(np.float32)
    indices = i64(0, 10, -1, 3).reshape(2, 2)
    (got,) = _op(driver, "fpq.embedding", [table, indices], [((2, 2, 4), np.float32)])
    np.testing.assert_array_equal(got, table[np.where(indices < 0, indices + 11, indices)])
    parts = _op(driver, "fpq.split", [data], [((2, 7, 2), np.float32)] * 3)
    for got, want in zip(parts, np.split(data, 3, axis=-1), strict=True):
        np.testing.assert_array_equal(got, want)
    x = np.concatenate([rng.standard_normal(50) * 20, [0.0, -0.0, np.inf, -np.inf]]).astype(np.float32)
    (got,) = _op(driver, "fpq.silu", [x], [(x.shape, np.float32)])
    np.testing.assert_array_equal(got.view(np.uint32), silu_f32(x).view(np.uint32))


def test_a_bad_host_op_is_one_error_naming_it(driver):
    table = np.zeros((3, 2), np.float32)
    with pytest.raises(AssertionError, match="fpq.embedding index 5 out of range for a table of 3 rows"):
        _op(driver, "fpq.embedding", [table, np.array([5], np.int64)], [((1, 2), np.float32)])
    with pytest.raises(AssertionError, match="onnx.Tanh.*does not implement"):
        _op(driver, "onnx.Tanh", [table], [((3, 2), np.float32)])


@pytest.mark.parametrize("text", [
    "",
    "a",
    '{"format": "fpqc-host-schedule", "kernels": []}',
    "é ü ∑ \u0000 \u00ff",  # multi-byte UTF-8 and a NUL
    "x" * 6000,  # both of Adler-32's sums wrap past 65521
    "".join(chr(c) for c in range(1, 0x800)) * 3,
])
def test_the_schedule_fingerprint_is_pythons(driver, tmp_path, text):
    schedule = tmp_path / "host_schedule.json"
    schedule.write_bytes(text.encode())
    raw = driver({"mode": "fingerprint", "file": str(schedule)})
    assert int(raw.view(np.uint64)[0]) == fingerprint(text)
