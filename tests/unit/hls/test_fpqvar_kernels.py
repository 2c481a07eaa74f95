"""FPQVAR's ops through the HLS backend: outlining, emission, C simulation vs the interpreter.

The model is an FFN as FPQVAR quantizes it: the group-wise Hadamard transform
of fc1's input (with or without its random signs), fc1's quantizer and
quantized linear layer, GELU, then fc2's dual-format quantizer and dual
linear layer.  It must become one kernel, and its C simulation must
reproduce every intermediate buffer of the interpreter bit for bit (the
kernel built with ``-DFPQC_DUMP``).
"""

import itertools
import re

import numpy as np
import pytest
from xdsl.builder import Builder
from xdsl.dialects import func
from xdsl.dialects.builtin import ArrayAttr, DictionaryAttr, ModuleOp, StringAttr, TensorType, f32
from xdsl.interpreter import Interpreter
from xdsl.rewriter import InsertPoint

from fpqc.backends.hls.csim import compile_csim, run_csim
from fpqc.backends.hls.build import emit_build
from fpqc.backends.hls.codes import code_format
from fpqc.tools.verify import verify_build
from fpqc.backends.interp.runner import INTERPRETER_FUNCTIONS
from fpqc.dialects import fpq, hls
from fpqc.numerics import Format, compute_scales, quantize
from fpqc.numerics.hadamard import random_signs
from fpqc.context import make_context
from fpqc.passes.tile import TilePass
from fpqc.targets import load_target
from fpqc.weights import WeightStore

from conftest import corrupt_stage, lower, seal, write_build

T, C, HIDDEN = 4, 256, 256
_IDS = itertools.count()


def _quant(fmt: str, granularity: str) -> fpq.QuantAttr:
    kind, _, size = granularity.partition(" ")
    return fpq.QuantAttr.get(Format.parse(fmt), kind, int(size or 0))


CONFIGS = {
    # FPQVAR W4A4: E2M1 per group of 128, dual E1M2 negatives / E2M1 positives
    "w4a4": ("e2m1", "e2m1", "group 128", "group 128", ("e1m2", "e2m1")),
    # FPQVAR W6A6: E2M3 activations per token, weights per channel, dual INT6 / E2M3
    "w6a6": ("e2m3", "e2m3", "token", "channel", ("int6", "e2m3")),
    # MixedFormat: E2M1 on both sides of fc2's input, separate scales
    "mixedformat": ("e2m1", "e2m1", "group 128", "group 128", ("e2m1", "e2m1")),
}


def fpqvar_model(blocks: list[tuple[str, bool, bool, int]], seed: int = 0) -> tuple[ModuleOp, WeightStore]:
    """@main(x): per (config, signs, bias, block) of ``blocks`` an FFN
    ``x = fc2(dual(gelu(fc1(quantize(hadamard(x, [signs]))))))``, with a host
    ``fpq.layernorm`` between two FFNs; weights quantized here, each FFN its own."""
    rng = np.random.default_rng(seed)
    store = WeightStore()
    prefix = f"ffn{next(_IDS)}"
    main = func.FuncOp(
        "main",
        ((TensorType(f32, (T, C)),), (TensorType(f32, (T, C)),)),
        arg_attrs=ArrayAttr([DictionaryAttr({"onnx.name": StringAttr("x")})]),
        res_attrs=ArrayAttr([DictionaryAttr({"onnx.name": StringAttr("y")})]),
    )
    b = Builder(InsertPoint.at_end(main.body.block))
    x = main.args[0]
    for i, (config, signs, bias, block) in enumerate(blocks):
        act, weight, x_gran, w_gran, dual = CONFIGS[config]
        xq, wq = _quant(act, x_gran), _quant(weight, w_gran)
        neg_q, pos_q = _quant(dual[0], x_gran), _quant(dual[1], x_gran)

        def weights(name: str, o: int, k: int):
            w = (rng.standard_normal((o, k)) / np.sqrt(k)).astype(np.float32)
            group = wq.group_size_for(k)
            ws = compute_scales(w, wq.format, axis=-1, group_size=group)
            codes = store.add(f"{name}.codes", quantize(w, wq.format, ws, axis=-1, group_size=group))
            wc = b.insert(fpq.ConstantOp(codes, TensorType(wq.element, (o, k)))).result
            wsv = b.insert(fpq.ConstantOp(store.add(f"{name}.scales", ws))).result
            if not bias:
                return wc, wsv, None
            bias_attr = store.add(f"{name}.bias", rng.standard_normal(o).astype(np.float32))
            return wc, wsv, b.insert(fpq.ConstantOp(bias_attr)).result

        if i:
            x = b.insert(fpq.SiluOp(x)).result  # a host op between the blocks
        signs_value = None
        if signs:
            signs_attr = store.add(f"{prefix}.{i}.signs", random_signs(C, seed + i).astype(np.float32))
            signs_value = b.insert(fpq.ConstantOp(signs_attr)).result
        h = b.insert(fpq.HadamardOp(x, block, signs_value)).result
        q = b.insert(fpq.QuantizeOp(h, xq))
        y1 = b.insert(fpq.QLinearOp(q.codes, q.scales, *weights(f"{prefix}.{i}.fc1", HIDDEN, C), xq, wq)).result
        g = b.insert(fpq.GeluOp(y1)).result
        d = b.insert(fpq.DualQuantizeOp(g, neg_q, pos_q))
        wc, wsv, bv = weights(f"{prefix}.{i}.fc2", C, HIDDEN)
        x = b.insert(fpq.DualQLinearOp(*d.results, wc, wsv, bv, neg_q, pos_q, wq)).result
    b.insert(func.ReturnOp(x))
    module = ModuleOp([main])
    module.verify()
    return module, store


class _Recorder(Interpreter.Listener):
    def __init__(self) -> None:
        self.results: dict = {}

    def did_interpret_op(self, op, results) -> None:
        self.results[op] = tuple(np.asarray(r) for r in results)


def _interpret_kernel(module: ModuleOp, store: WeightStore, x: np.ndarray):
    """The interpreter's output of @main and every result of every op in the kernel."""
    recorder = _Recorder()
    interpreter = Interpreter(module, listeners=(recorder,))
    for functions in INTERPRETER_FUNCTIONS:
        interpreter.register_implementations(functions())
    with store.activate():
        (y,) = interpreter.call_op("main", (x,))
    return np.asarray(y), recorder.results


def _bits(a) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=np.float32).view(np.uint32)


@pytest.mark.parametrize(
    "config, signs, bias, block",
    [
        ("w4a4", True, True, 128),
        ("w4a4", False, False, 128),
        ("w6a6", True, False, 64),
        ("w6a6", False, True, 128),
        ("mixedformat", True, True, 32),
        ("mixedformat", False, False, 256),
    ],
)
def test_fpqvar_kernel_is_bit_exact(tmp_path, config, signs, bias, block):
    weight, dual = CONFIGS[config][1], CONFIGS[config][4]
    module, store = fpqvar_model([(config, signs, bias, block)])
    lower(module)
    (kernel,) = [op for op in module.ops if isinstance(op, hls.KernelOp)]
    assert [op.name for op in kernel.body.block.ops] == [
        "fpq.hadamard", "fpq.quantize", "fpq.qlinear", "fpq.gelu", "fpq.dual_quantize",
        "fpq.dual_qlinear", "hls.plan", "hls.return",
    ]
    emit_build(module, store, tmp_path, load_target("vck190"))
    source = (tmp_path / "kernels" / "kernel_0.cpp").read_text()
    assert f"fpqc::hadamard_stage<{C}, {block}, {'true' if signs else 'false'}, {C}, {T}, 16>" in source
    # with signs, the kernel reads them from a port into a whole buffer; without, it passes none
    assert ("hadamard0_block, 0, " in source) != signs
    assert bool(re.search(r"fpqc::load_buffer\(\w+, hadamard0_signs\);", source)) == signs
    tables = (tmp_path / "kernels" / "fpqc_tables.h").read_text()
    assert f"static const fpqc::DualQuantizer fpqc_dual_{dual[0]}_{dual[1]}_rne" in tables
    assert f"fpqc_{dual[0]}_x_{weight}_prod" in tables and f"fpqc_{dual[1]}_x_{weight}_prod" in tables

    exe = compile_csim(tmp_path, dump=True)
    rng = np.random.default_rng(1)
    for scale in (1.0, 1e-3, 40.0):
        x = (rng.standard_normal((T, C)) * scale).astype(np.float32)
        x[1] = 0.0  # a zero row: zero scales after the transform
        dump = tmp_path / f"dump{scale}"
        dump.mkdir()
        got = run_csim(tmp_path, {"x": x}, exe=exe, dump_dir=dump)["y"]
        want, recorded = _interpret_kernel(module, store, x)
        assert np.array_equal(_bits(got), _bits(want))
        for index, op in enumerate(kernel.body.block.ops):
            if isinstance(op, hls.ReturnOp | hls.PlanOp):
                break
            for j, (result, value) in enumerate(zip(op.results, recorded[op])):
                codes = code_format(result.type) is not None
                dumped = np.fromfile(dump / f"kernel_0.{index}.{j}.bin", np.uint8 if codes else "<f4")
                expected = value.astype(np.uint8).ravel() if codes else _bits(value).ravel()
                assert np.array_equal(dumped if codes else _bits(dumped), expected), (op.name, j)


def test_row_tiles_are_bit_exact(tmp_path):
    """Planned in row tiles of 3 of the 4 rows (a full tile and a partial one), the kernel's regions run
    once per tile -- the weights streamed again for each -- and its C simulation still equals the
    interpreter bit for bit, every intermediate included."""
    module, store = fpqvar_model([("w4a4", True, True, 128)], seed=5)
    lower(module)
    TilePass(row_tile=3).apply(make_context(), module)
    module.verify()
    emit_build(module, store, tmp_path, load_target("vck190"))
    source = (tmp_path / "kernels" / "kernel_0.cpp").read_text()
    assert "for (int r0 = 0; r0 < launch_rows; r0 += 3) {" in source
    assert "static ap_uint<4> qlinear0_x[3][256];" in source  # a whole buffer of one row tile
    exe = compile_csim(tmp_path, dump=True)
    (kernel,) = [op for op in module.ops if isinstance(op, hls.KernelOp)]
    x = np.random.default_rng(6).standard_normal((T, C)).astype(np.float32)
    dump = tmp_path / "dump"
    dump.mkdir()
    got = run_csim(tmp_path, {"x": x}, exe=exe, dump_dir=dump)["y"]
    want, recorded = _interpret_kernel(module, store, x)
    assert np.array_equal(_bits(got), _bits(want))
    for index, op in enumerate(hls.compute_ops(kernel)):
        for j, (result, value) in enumerate(zip(op.results, recorded[op])):
            codes = code_format(result.type) is not None
            dumped = np.fromfile(dump / f"kernel_0.{index}.{j}.bin", np.uint8 if codes else "<f4")
            expected = value.astype(np.uint8).ravel() if codes else _bits(value).ravel()
            assert np.array_equal(dumped if codes else _bits(dumped), expected), (op.name, j)


def _kernel_names(module: ModuleOp) -> list[str]:
    return [op.sym_name.data for op in module.ops if isinstance(op, hls.KernelOp)]


def test_blocks_with_different_signs_share_one_kernel(tmp_path):
    module, store = fpqvar_model([("w4a4", True, True, 128)] * 3, seed=4)
    lower(module)
    assert _kernel_names(module) == ["kernel_0"]
    main = next(op for op in module.ops if isinstance(op, func.FuncOp))
    calls = [op for op in main.body.block.ops if isinstance(op, hls.CallOp)]
    assert [c.callee.string_value() for c in calls] == ["kernel_0"] * 3
    assert len({c.arguments[1] for c in calls}) == 3  # each launch with its own signs
    write_build(tmp_path, module, store)
    report = verify_build(tmp_path, samples=1)
    assert report.kernels["kernel_0"].launches == 3 and report.differing == 0, report.summary()


@pytest.mark.parametrize(
    "second, kernels",
    [
        (("w4a4", False, True, 128), 2),  # no signs: one port fewer
        (("w4a4", True, True, 64), 2),  # another Hadamard block size
        (("mixedformat", True, True, 128), 2),  # another dual format
        (("w4a4", True, False, 128), 2),  # no bias
        (("w4a4", True, True, 128), 1),
    ],
)
def test_dedupe_tells_fpqvar_kernels_apart(second, kernels):
    module, _ = fpqvar_model([("w4a4", True, True, 128), second])
    lower(module)
    assert len(_kernel_names(module)) == kernels


def test_verify_names_a_broken_dual_quantizer(tmp_path):
    module, store = fpqvar_model([("w4a4", True, True, 128)], seed=2)
    lower(module)
    write_build(tmp_path, module, store)
    # Break the C++ side's positive-side scale of the first group of fc2's input (its codes stay right).
    first = "(r0 + i == 0 && c0 == 0 ? 2.0f * sp : sp)"
    corrupt_stage(tmp_path / "kernels" / "kernel_0.cpp", "dual_quantize_stage",
                  ("put(s_pos, csp, i, c0 / G, sp);", f"put(s_pos, csp, i, c0 / G, {first});"),
                  ("s_pos_tap.put(r0 + i, c0 / G, sp);", f"s_pos_tap.put(r0 + i, c0 / G, {first});"))
    seal(tmp_path)  # a build whose C++ disagrees with its IR, as fpqc wrote it
    report = verify_build(tmp_path, samples=1)
    first = report.first_difference
    assert (first.kernel, first.index, first.op, first.result) == ("kernel_0", 4, "fpq.dual_quantize", 3)
    assert "first differing op: fpq.dual_quantize" in report.summary()
