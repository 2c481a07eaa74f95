"""Shared builders for the HLS backend tests: small quantized modules and their weights.

Modules that refer to weights are built with the op constructors, not parsed:
xDSL's parser renames a ``dense_resource`` key it has seen before in the same
process, and every test here must see its own keys unchanged.
"""

from __future__ import annotations

import itertools
from importlib.metadata import version
from pathlib import Path

import numpy as np
from xdsl.builder import Builder
from xdsl.rewriter import InsertPoint
from xdsl.dialects import func
from xdsl.dialects.builtin import ArrayAttr, DictionaryAttr, ModuleOp, StringAttr, TensorType, f32
from xdsl.parser import Parser

from fpqc.backends.hls.build import emit_build
from fpqc.context import make_context, print_module
from fpqc.files.build_directory import write_manifest
from fpqc.targets import load_target
from fpqc.dialects import fpq
from fpqc.numerics import Format, compute_scales, quantize
from fpqc.passes.outline_kernels import OutlineKernelsPass
from fpqc.passes.tile import TilePass
from fpqc.weights import WeightStore

_MODULE_IDS = itertools.count()


def parse(text: str) -> ModuleOp:
    module = Parser(make_context(), text).parse_module()
    module.verify()
    return module


def write_build(directory: Path, module: ModuleOp, store: WeightStore) -> None:
    """What ``fpqc compile`` writes for a lowered module: IR, weights, the HLS build, the manifest."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "model.hls.mlir").write_text(print_module(module))
    store.save(directory / "weights.npz")
    emit_build(module, store, directory, load_target("vck190"))
    seal(directory)


def seal(directory: Path) -> None:
    """The manifest ``fpqc compile`` writes last, listing every file now in ``directory``."""
    write_manifest(directory, {"fpqc": version("fpqc")})


def lower(module: ModuleOp) -> ModuleOp:
    """What ``fpqc compile`` does after quantization: outline the kernels and plan their hardware."""
    OutlineKernelsPass().apply(make_context(), module)
    TilePass().apply(make_context(), module)
    module.verify()
    return module


def _quant(fmt: Format, granularity: str) -> fpq.QuantAttr:
    kind, _, size = granularity.partition(" ")
    return fpq.QuantAttr.get(fmt, kind, int(size or 0))


def quantized_linear(
    fmt_name: str,
    t: int = 4,
    k: int = 64,
    o: int = 8,
    x_gran: str = "token",
    w_gran: str = "group 16",
    bias: bool = True,
    gelu: bool = False,
    seed: int = 0,
) -> tuple[ModuleOp, WeightStore]:
    """@main(x) = [gelu](qlinear(quantize(x), W, b)) with W quantized here; (module, store)."""
    fmt = Format.parse(fmt_name)
    xq, wq = _quant(fmt, x_gran), _quant(fmt, w_gran)
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((o, k)).astype(np.float32)
    w_group = wq.group_size_for(k)
    w_axis = None if w_group is None else -1
    ws = compute_scales(w, fmt, axis=w_axis, group_size=w_group)
    store = WeightStore()
    prefix = f"fc{next(_MODULE_IDS)}"
    codes_attr = store.add(f"{prefix}.codes", quantize(w, fmt, ws, axis=w_axis, group_size=w_group))
    scales_attr = store.add(f"{prefix}.scales", ws)
    bias_attr = store.add(f"{prefix}.bias", rng.standard_normal(o).astype(np.float32))

    x_type = TensorType(f32, (t, k))
    y_type = TensorType(f32, (t, o))
    main = func.FuncOp(
        "main",
        ((x_type,), (y_type,)),
        arg_attrs=ArrayAttr([DictionaryAttr({"onnx.name": StringAttr("x")})]),
        res_attrs=ArrayAttr([DictionaryAttr({"onnx.name": StringAttr("y")})]),
    )
    b = Builder(InsertPoint.at_end(main.body.block))
    wc = b.insert(fpq.ConstantOp(codes_attr, TensorType(wq.element, (o, k)))).result
    wsv = b.insert(fpq.ConstantOp(scales_attr)).result
    bv = b.insert(fpq.ConstantOp(bias_attr)).result if bias else None
    q = b.insert(fpq.QuantizeOp(main.args[0], xq))
    y = b.insert(fpq.QLinearOp(q.codes, q.scales, wc, wsv, bv, xq, wq)).result
    if gelu:
        y = b.insert(fpq.GeluOp(y)).result
    b.insert(func.ReturnOp(y))
    module = ModuleOp([main])
    module.verify()
    return module, store


def residual_blocks(
    blocks: int = 2, t: int = 4, c: int = 128, hidden: int = 256, fmt_name: str = "e2m1", seed: int = 0
) -> tuple[ModuleOp, WeightStore]:
    """@main(x) = ``blocks`` x [x = x + fc2(relu(fc1(x)))], fc1/fc2 quantized linears.

    The relu and the residual add (onnx ops) stay on the host, so each block is
    two kernels -- the same two for every block.
    """
    from fpqc.dialects import onnx

    fmt = Format.parse(fmt_name)
    quant = _quant(fmt, "group 128")
    rng = np.random.default_rng(seed)
    store = WeightStore()
    prefix = f"res{next(_MODULE_IDS)}"
    x_type = TensorType(f32, (t, c))
    main = func.FuncOp(
        "main",
        ((x_type,), (x_type,)),
        arg_attrs=ArrayAttr([DictionaryAttr({"onnx.name": StringAttr("x")})]),
        res_attrs=ArrayAttr([DictionaryAttr({"onnx.name": StringAttr("y")})]),
    )
    b = Builder(InsertPoint.at_end(main.body.block))

    def linear(x, name: str, o: int, k: int):
        w = (rng.standard_normal((o, k)) / np.sqrt(k)).astype(np.float32)
        ws = compute_scales(w, fmt, axis=-1, group_size=128)
        codes = store.add(f"{prefix}.{name}.codes", quantize(w, fmt, ws, axis=-1, group_size=128))
        wc = b.insert(fpq.ConstantOp(codes, TensorType(quant.element, (o, k)))).result
        wsv = b.insert(fpq.ConstantOp(store.add(f"{prefix}.{name}.scales", ws))).result
        bias = store.add(f"{prefix}.{name}.bias", (0.1 * rng.standard_normal(o)).astype(np.float32))
        bv = b.insert(fpq.ConstantOp(bias)).result
        q = b.insert(fpq.QuantizeOp(x, quant))
        return b.insert(fpq.QLinearOp(q.codes, q.scales, wc, wsv, bv, quant, quant)).result

    x = main.args[0]
    for i in range(blocks):
        h = linear(x, f"b{i}.fc1", hidden, c)
        r = b.insert(onnx.ReluOp.make([h])).results[0]
        y = linear(r, f"b{i}.fc2", c, hidden)
        x = b.insert(onnx.AddOp.make([x, y])).results[0]
    b.insert(func.ReturnOp(x))
    module = ModuleOp([main])
    module.verify()
    return module, store


def corrupt_stage(kernel: Path, stage: str, *edits: tuple[str, str]) -> None:
    """Make one kernel's ``stage`` (a template of the build's library headers) compute something else: a
    copy of the template named ``<stage>_corrupted`` with each ``(old, new)`` edit applied, defined in the
    kernel's source and called there instead (the other kernels keep the library's)."""
    source = kernel.read_text()
    assert f"fpqc::{stage}<" in source, stage
    header = next(h.read_text() for h in sorted(kernel.parent.glob("fpqc_*.h")) if f" {stage}(" in h.read_text())
    start = header.rindex("template <", 0, header.index(f" {stage}("))
    body = header[start : header.index("\n}\n", start) + 3].replace(f" {stage}(", f" {stage}_corrupted(", 1)
    for old, new in edits:
        assert old in body, old
        body = body.replace(old, new)
    source = source.replace(f"fpqc::{stage}<", f"fpqc::{stage}_corrupted<")
    eol = source.index("\n", source.rindex("#include")) + 1
    kernel.write_text(source[:eol] + "namespace fpqc {\n" + body + "}  // namespace fpqc\n" + source[eol:])
