"""The library call of every stage of a kernel's plan, in the DATAFLOW region the plan puts it in.

:class:`StageCalls` walks a kernel's ops and adds to each region of a
:class:`~fpqc.backends.hls.kernel_cpp.KernelEmitter` the process calls of
its stages (``fpqc_tiled.h``, ``fpqc_linear.h``, ``fpqc_block.h``): each op
reads every operand through the plan's stream into its stage or the plan's
``whole`` buffer of it, and writes every result into the plan's stream out of
its last stage or the ``whole`` buffer holding it; scratch, tile and register
buffers are the plan's, by name (``<op label>.<what>``).  It adds the load
stage's loaders and the write stage's writers to the regions of the stages
they feed and drain, and gives the top function the loads of the arguments
kept whole, the writes of results kept whole and the C-simulation dumps.
Template arguments come from the op (shapes, formats) and the plan (row
tile, stream orders and widths, PE array, weight tiles); no hardware
decision is made here.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
from xdsl.ir import Operation, SSAValue

from fpqc.analysis.plan_fit import linear_multipliers
from fpqc.backends.hls.codes import code_format
from fpqc.dialects import fpq, hls
from fpqc.dialects.hls import element_bits
from fpqc.errors import FpqcError
from fpqc.numerics import accumulator_bits
from fpqc.numerics.dual_format import DualFormat

if TYPE_CHECKING:
    from fpqc.backends.hls.kernel_cpp import KernelEmitter, Region


def _args(*params: int | bool | str) -> str:
    """C++ template arguments: integers, booleans as ``true``/``false``, text as it is."""
    return ", ".join(("true" if p else "false") if isinstance(p, bool) else str(p) for p in params)


def _float(value: float) -> str:
    """An fp32 literal that rounds to ``value``'s float32 (hex float)."""
    return f"{float(np.float32(value)).hex()}f"


def _shape(value: SSAValue) -> tuple[int, ...]:
    return tuple(value.type.get_shape())


class StageCalls:
    """Adds the process calls of a kernel's stages to its regions (see module docstring)."""

    def __init__(self, emitter: KernelEmitter):
        self.e = emitter
        self.lanes = emitter.pe_array.lanes.value.data
        self.pes = emitter.pe_array.pes.value.data
        self.t = emitter.row_tile
        self.dumps: list[str] = []
        self.index = {op: i for i, op in enumerate(emitter.ops)}

    # ----------------------------------------------------------- transports

    def region(self, op: Operation, suffix: str = "") -> Region:
        return self.e.region_of(self.e.stage_of(op, suffix))

    def stream_ref(self, stream: hls.StreamOp, region: Region) -> str:
        if stream not in region.streams:
            region.streams.append(stream)
        return self.e.stream_names[stream.stream_name.data]

    def buffer_ref(self, b: hls.BufferOp, region: Region) -> str:
        return region.use(*self.e.buffer_param(b))

    def named(self, op: Operation, what: str, region: Region) -> str:
        """The plan's buffer ``<op label>.<what>`` in ``region``."""
        return self.buffer_ref(self.e.buffer(f"{self.e.labels[op]}.{what}"), region)

    def port_ref(self, value: SSAValue, region: Region) -> str:
        name = self.e.port_names[value]
        return region.use(name, f"{self.e.port_types[value]} {name}")

    def read(self, op: Operation, value: SSAValue, suffix: str = "") -> str:
        """What ``op``'s stage reads ``value`` through: the plan's stream into it, or the whole buffer."""
        stage = self.e.stage_of(op, suffix)
        region = self.e.region_of(stage)
        stream = self.e.stream(value, dest=stage)
        if stream is not None:
            return self.stream_ref(stream, region)
        held = self.e.whole_buffer(value)
        if held is None:
            raise FpqcError(f"kernel @{self.e.name}: the plan neither streams nor keeps {op.name}'s operand; "
                            "rerun the tile pass")
        return self.buffer_ref(held, region)

    def whole(self, op: Operation, value: SSAValue, suffix: str = "") -> str:
        """The whole buffer ``op`` reads ``value`` from (a linear layer's codes and scales, per-sample vectors)."""
        held = self.e.whole_buffer(value)
        if held is None:
            raise FpqcError(f"kernel @{self.e.name}: the plan keeps no whole buffer of {op.name}'s operand")
        return self.buffer_ref(held, self.region(op, suffix))

    def write(self, op: Operation, value: SSAValue, suffix: str = "") -> str:
        """Where ``op``'s last stage writes ``value``: the plan's stream out of it, or the whole buffer."""
        rule_stage = self.e.stage_of(op, suffix)
        region = self.e.region_of(rule_stage)
        stream = self.e.stream(value, source=rule_stage)
        if stream is not None:
            return self.stream_ref(stream, region)
        held = self.e.whole_buffer(value)
        if held is None:
            raise FpqcError(f"kernel @{self.e.name}: the plan neither streams nor keeps a result of {op.name}")
        return self.buffer_ref(held, region)

    def order(self, op: Operation, first: str = "", last: str = "") -> int:
        """Columns per column tile the op's rows come and go in (its row length: row after row)."""
        streams = [s for s in self.e.plan.entries_of(hls.StreamOp)
                   if (s.to_stage.data == self.e.stage_of(op, first) and s.value in op.operands)
                   or (s.from_stage.data == self.e.stage_of(op, last) and s.value in op.results)]
        columns = {s.column_tile for s in streams if s.column_tile}
        return columns.pop() if columns else _shape(op.results[0])[-1]

    def tap(self, op: Operation, j: int) -> str:
        """The C-simulation tap of result ``j`` of ``op``; its dump is written at the kernel's end."""
        value = op.results[j]
        shape = _shape(value)
        name = f"{self.e.name}.{self.index[op]}.{j}"
        rows = self.e.rows_expr(shape) if len(shape) > 1 else "1"
        size = 1 if code_format(value.type) is not None else 4
        self.dumps.append(f'    FPQC_DUMP_WRITE("{name}", (long)({rows}) * {shape[-1]}, {size});')
        return f'FPQC_TAP("{name}", {shape[-1]})'

    def gcd_lanes(self, n: int) -> int:
        return math.gcd(self.lanes, n)

    # ------------------------------------------------------ load and write

    def load_buffer(self, b: hls.BufferOp) -> str:
        """Before the first region: a whole buffer of a kernel argument from its port."""
        value = b.values[0]
        port = self.e.port_names[value]
        if len(b.shape) == 1:
            return f"    fpqc::load_buffer({port}, {self.e.buffer_names[b.buffer_name.data]});"
        rows = self.e.rows_expr(_shape(value))
        return f"    fpqc::load_buffer({port}, {self.e.buffer_names[b.buffer_name.data]}, {rows});"

    def loader(self, stream: hls.StreamOp) -> None:
        """The load stage's part in the region of the stage a port streams into."""
        value, dest = stream.value, stream.to_stage.data
        region = self.e.region_of(dest)
        s = self.stream_ref(stream, region)
        port = self.port_ref(value, region)
        reader = self.e.op_of_stage(dest)
        if isinstance(reader, fpq.QLinearOp | fpq.DualQLinearOp):
            region.calls.append(self.weight_loader(reader, value, port, s))
            return
        c = _shape(value)[-1]
        w = stream.column_tile or c
        region.calls.append(f"    fpqc::load_rows<{_args(c, w, self.t)}>({port}, {s}, r0, nr);")

    def weight_loader(self, op: Operation, value: SSAValue, port: str, s: str) -> str:
        o, k = _shape(op.weight_codes)
        n_tile = self.n_tile(op)
        if value is op.weight_codes:
            fw = op.w_quant.format
            word = self.e.plan_port(value).width.value.data
            words = -(-(o * k) // ((32 // fw.bits) * (word // 32)))
            return f"    fpqc::load_weight_words<{_args(words, word)}>({port}, {s});"
        if value is op.bias:
            return f"    fpqc::load_biases<{o}>({port}, {s});"
        ws_row, wg = _scale_layout(op.w_quant, k)
        return f"    fpqc::load_weight_params<{_args(k, o, ws_row, wg, n_tile)}>({port}, {s});"

    def writer(self, stream: hls.StreamOp) -> None:
        """The write stage's part in the region of the stage a result streams out of."""
        value = stream.value
        region = self.e.region_of(stream.from_stage.data)
        s = self.stream_ref(stream, region)
        port = self.port_ref(value, region)
        c = _shape(value)[-1]
        if code_format(value.type) is not None:
            if stream.column_tile:
                raise FpqcError(f"kernel @{self.e.name}: codes leave a kernel row after row; "
                                f"'{stream.stream_name.data}' comes in column tiles")
            region.calls.append(f"    fpqc::write_rows<{_args(c, self.t)}>({s}, {port}, r0, nr);")
            return
        w = stream.column_tile or c
        region.calls.append(f"    fpqc::write_rows<{_args(c, w, self.t)}>({s}, {port}, r0, nr);")

    def write_buffer(self, value: SSAValue, j: int) -> str:
        """After the last region: a result kept whole into its port."""
        held = self.e.whole_buffer(value)
        if held is None:
            raise FpqcError(f"kernel @{self.e.name}: result {j} is neither streamed out nor kept whole")
        rows = self.e.rows_expr(_shape(value))
        return (f"    fpqc::write_buffer({self.e.buffer_names[held.buffer_name.data]}, "
                f"{self.e.port_names[value]}, {rows});")

    # ------------------------------------------------------------------ ops

    def op(self, op: Operation) -> None:
        calls = {
            fpq.QuantizeOp: self.quantize, fpq.DequantizeOp: self.dequantize, fpq.GeluOp: self.gelu,
            fpq.HadamardOp: self.hadamard, fpq.DualQuantizeOp: self.dual_quantize, fpq.QLinearOp: self.linear,
            fpq.DualQLinearOp: self.linear, fpq.LayerNormOp: self.layernorm, fpq.ModulateOp: self.modulate,
            fpq.ResidualOp: self.residual, fpq.CachedAttentionOp: self.attention,
        }
        call = calls.get(type(op))
        if call is None:
            raise FpqcError(
                f"kernel @{self.e.name}: {op.name} has no HLS library stage (supported: "
                f"{', '.join(sorted(t.name for t in calls))})"
            )
        call(op)

    def add(self, op: Operation, text: str, suffix: str = "") -> None:
        self.region(op, suffix).calls.append(f"    // {self.index[op]}: {op.name} ({self.e.stage_of(op, suffix)})")
        self.region(op, suffix).calls.append(text)

    def quantize(self, op: fpq.QuantizeOp) -> None:
        quant = op.quant
        if quant.scale_kind.data != "fp32":
            raise FpqcError(
                f"kernel @{self.e.name}: fpq.quantize with {quant.scale_kind.data} scales is not in "
                "the HLS library yet; use fp32 scales for activations"
            )
        c = _shape(op.input)[-1]
        table = self.e.tables.quantizer(quant.format, quant.rounding.data)
        codes, scales = self.write(op, op.codes), self.write(op, op.scales)
        if quant.granularity.data == "tensor":
            params = _args(quant.format.bits, c, self.launch_rows_max(op), self.gcd_lanes(c))
            self.add(op, f"    fpqc::quantize_tensor_stage<{params}>({self.whole(op, op.input)}, {codes}, {scales}, "
                         f"{table}, nr, {self.tap(op, 0)}, {self.tap(op, 1)});")
            return
        if quant.granularity.data not in ("token", "group"):
            raise FpqcError(
                f"kernel @{self.e.name}: activations quantized per {quant.granularity.data} are not in the HLS "
                "library; quantize them per token, per group or per tensor"
            )
        group = quant.group_size_for(c) or c
        params = _args(quant.format.bits, c, group, self.order(op), self.t, self.gcd_lanes(group))
        self.add(op, f"    fpqc::quantize_stage<{params}>({self.read(op, op.input)}, {self.named(op, 'group', self.region(op))}, "
                     f"{codes}, {scales}, {table}, r0, nr, {self.tap(op, 0)}, {self.tap(op, 1)});")

    def launch_rows_max(self, op: Operation) -> int:
        return math.prod(_shape(op.operands[0])[:-1])

    def dequantize(self, op: fpq.DequantizeOp) -> None:
        c = _shape(op.codes)[-1]
        group = op.quant.group_size_for(c)
        if group is None:
            raise FpqcError(f"kernel @{self.e.name}: fpq.dequantize with one scale per tensor is not in the HLS "
                            "library; dequantize per token or per group")
        w = self.order(op)
        params = _args(c, group, w, self.t, self.gcd_lanes(math.gcd(w, group)))
        self.add(op, f"    fpqc::dequantize_stage<{params}>({self.read(op, op.codes)}, {self.read(op, op.scales)}, "
                     f"{self.write(op, op.result)}, {self.e.tables.decoder(op.quant.format)}, r0, nr, "
                     f"{self.tap(op, 0)});")

    def gelu(self, op: fpq.GeluOp) -> None:
        c, w = _shape(op.input)[-1], self.order(op)
        self.add(op, f"    fpqc::gelu_stage<{_args(c, w, self.t, self.gcd_lanes(w))}>({self.read(op, op.input)}, "
                     f"{self.write(op, op.result)}, r0, nr, {self.tap(op, 0)});")

    def hadamard(self, op: fpq.HadamardOp) -> None:
        c, block, w = _shape(op.input)[-1], op.block.value.data, self.order(op)
        signs = "0" if op.signs is None else self.whole(op, op.signs)
        params = _args(c, block, op.signs is not None, w, self.t, self.gcd_lanes(block))
        self.add(op, f"    fpqc::hadamard_stage<{params}>({self.read(op, op.input)}, "
                     f"{self.named(op, 'block', self.region(op))}, {signs}, {self.write(op, op.result)}, r0, nr, "
                     f"{self.tap(op, 0)});")

    def dual_quantize(self, op: fpq.DualQuantizeOp) -> None:
        c = _shape(op.input)[-1]
        group = op.neg_quant.group_size_for(c) or c
        fn, fp = op.neg_quant.format, op.pos_quant.format
        table = self.e.tables.dual_quantizer(DualFormat(fn, fp), op.neg_quant.rounding.data)
        params = _args(fn.bits, fp.bits, c, group, self.order(op), self.t, self.gcd_lanes(group))
        outs = ", ".join(self.write(op, r) for r in op.results)
        taps = ", ".join(self.tap(op, j) for j in range(4))
        self.add(op, f"    fpqc::dual_quantize_stage<{params}>({self.read(op, op.input)}, "
                     f"{self.named(op, 'group', self.region(op))}, {outs}, {table}, r0, nr, {taps});")

    def layernorm(self, op: fpq.LayerNormOp) -> None:
        c = _shape(op.input)[-1]
        self.add(op, f"    fpqc::layernorm_stage<{_args(c, self.t, self.gcd_lanes(c))}>({self.read(op, op.input)}, "
                     f"{self.named(op, 'row', self.region(op))}, {self.write(op, op.result)}, "
                     f"{_float(op.eps.value.data)}, r0, nr, {self.tap(op, 0)});")

    def modulate(self, op: fpq.ModulateOp) -> None:
        c, w = self.per_sample(op), self.order(op)
        self.add(op, f"    fpqc::modulate_stage<{_args(c, w, self.t, self.gcd_lanes(w))}>({self.read(op, op.input)}, "
                     f"{self.whole(op, op.scale)}, {self.whole(op, op.shift)}, {self.write(op, op.result)}, n, r0, nr, "
                     f"{self.tap(op, 0)});")

    def residual(self, op: fpq.ResidualOp) -> None:
        c, w = self.per_sample(op), self.order(op)
        self.add(op, f"    fpqc::residual_stage<{_args(c, w, self.t, self.gcd_lanes(w))}>({self.read(op, op.input)}, "
                     f"{self.read(op, op.branch)}, {self.whole(op, op.gamma)}, {self.write(op, op.result)}, n, r0, nr, "
                     f"{self.tap(op, 0)});")

    def per_sample(self, op: fpq.ModulateOp | fpq.ResidualOp) -> int:
        shape = _shape(op.input)
        if len(shape) != 3:
            raise FpqcError(f"kernel @{self.e.name}: {op.name} on {list(shape)}; the HLS library takes [B, n, C]")
        return shape[-1]

    # --------------------------------------------------------------- linear

    def n_tile(self, op: Operation) -> int:
        tile = self.e.plan.tile_of(op)
        n_loop = tile.loop("n") if tile is not None else None
        k_loop = tile.loop("k") if tile is not None else None
        if n_loop is None or k_loop is None:
            raise FpqcError(f"kernel @{self.e.name}: the plan has no weight tile for {op.name}; rerun the tile pass")
        if k_loop.tile.data != k_loop.extent.data:
            raise FpqcError(f"kernel @{self.e.name}: {op.name} in k tiles of {k_loop.tile.data}; the HLS library's "
                            "PE array takes whole rows of K (k_tile=0)")
        n_tile = n_loop.tile.data
        if n_loop.extent.data % n_tile or n_tile % min(n_tile, self.pes):
            raise FpqcError(f"kernel @{self.e.name}: {op.name}'s weight tile of {n_tile} outputs does not divide "
                            f"N = {n_loop.extent.data} into blocks of the {self.pes} PEs")
        return n_tile

    def linear(self, op: fpq.QLinearOp | fpq.DualQLinearOp) -> None:
        dual = isinstance(op, fpq.DualQLinearOp)
        o, k = _shape(op.weight_codes)
        group = op.combine_group_size()
        fw = op.w_quant.format
        n_tile = self.n_tile(op)
        label = self.e.labels[op]
        sums = self.e.stream(op.result, f"{label}.mul", f"{label}.combine")
        words = self.e.stream(op.weight_codes, "load", f"{label}.mul")
        scales = self.e.stream(op.weight_scales, "load", f"{label}.combine")
        if None in (sums, words, scales):
            raise FpqcError(f"kernel @{self.e.name}: the plan lacks a stream of {op.name}; rerun the tile pass")
        mul, comb = (self.region(op, s) for s in ("mul", "combine"))
        # a lane sum's bits: the adder tree's, an exact sum of ``lanes`` products of each multiplier
        sum_bits = max(accumulator_bits(m.fx, m.fw, self.lanes) for m in linear_multipliers(op))
        acc_buffer = self.e.buffer(f"{label}.acc")
        acc_bits = element_bits(acc_buffer.contents.get_element_type())
        pe_w = self.buffer_ref(self.e.tile_buffer(op.weight_codes), mul)
        port_bits = self.e.plan_port(op.weight_codes).width.value.data
        mul_params = _args(k, o, group, n_tile, self.pes, self.lanes, fw.bits, port_bits, sum_bits, acc_bits, self.t)
        word_s, acc_s, sums_out = self.stream_ref(words, mul), self.buffer_ref(acc_buffer, mul), self.stream_ref(sums, mul)
        if dual:
            n_table, _ = self.e.tables.product(op.neg_quant.format, fw)
            p_table, _ = self.e.tables.product(op.pos_quant.format, fw)
            self.add(op, f"    fpqc::dual_linear_mul<{mul_params}>({self.whole(op, op.neg_codes, 'mul')}, "
                         f"{self.whole(op, op.pos_codes, 'mul')}, {word_s}, {pe_w}, {n_table}, {p_table}, {acc_s}, "
                         f"{sums_out}, r0, nr);", "mul")
        else:
            table, _ = self.e.tables.product(op.x_quant.format, fw)
            self.add(op, f"    fpqc::linear_mul<{mul_params}>({self.whole(op, op.input_codes, 'mul')}, {word_s}, "
                         f"{pe_w}, {table}, {acc_s}, {sums_out}, r0, nr);", "mul")
        x_quant = op.neg_quant if dual else op.x_quant
        xs_row, xg = _scale_layout(x_quant, k)
        ws_row, wg = _scale_layout(op.w_quant, k)
        if op.bias is not None:
            bias_stream = self.e.stream(op.bias, "load", f"{label}.combine")
            b_in = self.stream_ref(bias_stream, comb)
            b_buf = self.buffer_ref(self.e.tile_buffer(op.bias), comb)
        else:
            b_in = b_buf = "fpqc::no_bias"
        pe_ws = self.buffer_ref(self.e.tile_buffer(op.weight_scales), comb)
        total = self.named(op, "total", comb)
        comb_params = _args(k, o, group, n_tile, self.pes, acc_bits, xs_row, xg, ws_row, wg, self.t)
        ws_s, sums_s, out = self.stream_ref(scales, comb), self.stream_ref(sums, comb), self.write(op, op.result, "combine")
        if dual:
            units = f"{self.e.tables.product(op.neg_quant.format, fw)[1]}, {self.e.tables.product(op.pos_quant.format, fw)[1]}"
            self.add(op, f"    fpqc::dual_linear_combine<{comb_params}>({self.whole(op, op.neg_scales, 'combine')}, "
                         f"{self.whole(op, op.pos_scales, 'combine')}, {ws_s}, {b_in}, {pe_ws}, {b_buf}, {total}, "
                         f"{sums_s}, {units}, {out}, r0, nr, {self.tap(op, 0)});", "combine")
        else:
            unit = self.e.tables.product(op.x_quant.format, fw)[1]
            self.add(op, f"    fpqc::linear_combine<{comb_params}>({self.whole(op, op.input_scales, 'combine')}, "
                         f"{ws_s}, {b_in}, {pe_ws}, {b_buf}, {total}, {sums_s}, {unit}, {out}, r0, nr, "
                         f"{self.tap(op, 0)});", "combine")

    # ------------------------------------------------------------ attention

    def attention(self, op: fpq.CachedAttentionOp) -> None:
        label = self.e.labels[op]
        b, n, c3 = _shape(op.qkv)
        c, heads = c3 // 3, op.num_heads.value.data
        cache_rows = _shape(op.k_cache)[1]
        tile = self.e.plan.tile_of(op)
        keys_loop = tile.loop("keys") if tile is not None else None
        heads_loop = tile.loop("heads") if tile is not None else None
        units = heads_loop.tile.data if heads_loop is not None else 1
        if keys_loop is None or keys_loop.tile.data != cache_rows:
            raise FpqcError(f"kernel @{self.e.name}: {op.name} with K/V tiles of fewer than all {cache_rows} cache "
                            "rows (kv_tile) is not in the HLS library")
        if op.k_cache not in self.e.port_names or "const" in self.e.port_types[op.k_cache]:
            raise FpqcError(f"kernel @{self.e.name}: a KV cache is not updated in place (no hls.updates)")
        store, attend = self.region(op, "store_kv"), self.region(op, "attend")
        offset_arg = self.e.port_names[op.offset]
        for region in (store, attend):
            region.use(offset_arg, f"long long {offset_arg}")
        stream = self.e.stream(op.qkv, dest=f"{label}.store_kv")
        w = stream.column_tile if stream is not None and stream.column_tile else c3
        qkv = self.read(op, op.qkv, "store_kv")
        q = self.e.plan.buffer(f"{label}.q") or self.e.whole_buffer(op.qkv)
        keys = self.e.stream(op.k_cache, f"{label}.load_kv", f"{label}.attend")
        values = self.e.stream(op.v_cache, f"{label}.load_kv", f"{label}.attend")
        ks, vs = self.stream_ref(keys, attend), self.stream_ref(values, attend)
        if op.kv_quant is None:
            self.add(op, f"    fpqc::store_kv_stage<{_args(c, heads, w, b, cache_rows, self.t)}>({qkv}, "
                         f"{self.buffer_ref(q, store)}, {self.named(op, 'kv', store)}, "
                         f"{self.port_ref(op.k_cache, store)}, {self.port_ref(op.v_cache, store)}, n, "
                         f"(int){offset_arg}, {_float(op.eps.value.data)}, r0, nr);", "store_kv")
            self.add(op, f"    fpqc::load_kv_stage<{_args(c, heads, b, cache_rows)}>({self.port_ref(op.k_cache, attend)}, "
                         f"{self.port_ref(op.v_cache, attend)}, {ks}, {vs}, n, (int){offset_arg});", "load_kv")
        else:
            fmt = op.kv_quant.format
            group = op.kv_quant.group_size_for(c // heads)
            every_key = op.scope() is fpq.KvScope.ALL
            kvq = (f"fpqc::kv_quantizer({self.e.tables.quantizer(fmt, op.kv_quant.rounding.data)}, "
                   f"{self.e.tables.decoder(fmt)})")

            def codes(region: Region) -> str:
                return ", ".join(
                    f"fpqc::KvCodes<{fmt.bits}, {group}>{{{self.port_ref(cache, region)}, {self.port_ref(scales, region)}}}"
                    for cache, scales in ((op.k_cache, op.k_scales), (op.v_cache, op.v_scales))
                )

            self.add(op, f"    fpqc::store_kv_codes_stage<{_args(c, heads, w, b, cache_rows, self.t, every_key)}>("
                         f"{qkv}, {self.buffer_ref(q, store)}, {self.named(op, 'kv', store)}, "
                         f"{self.named(op, 'fresh_k', store)}, {self.named(op, 'fresh_v', store)}, {codes(store)}, "
                         f"{kvq}, n, (int){offset_arg}, {_float(op.eps.value.data)}, r0, nr);", "store_kv")
            self.add(op, f"    fpqc::load_kv_codes_stage<{_args(c, heads, b, cache_rows, every_key)}>({codes(attend)}, "
                         f"{self.named(op, 'fresh_k', attend)}, {self.named(op, 'fresh_v', attend)}, {ks}, {vs}, "
                         f"{self.named(op, 'kv', attend)}, {kvq}, n, (int){offset_arg});", "load_kv")
        buffers = ", ".join(self.named(op, what, attend) for what in ("k", "v"))
        scratch = ", ".join(self.named(op, what, attend) for what in ("scores", "query", "context"))
        self.add(op, f"    fpqc::attend_stage<{_args(c, heads, b, cache_rows, units)}>({ks}, {vs}, {buffers}, "
                     f"{self.buffer_ref(q, attend)}, {self.whole(op, op.q_scale, 'attend')}, {scratch}, "
                     f"{self.write(op, op.result, 'attend')}, n, (int){offset_arg}, {_float(op.eps.value.data)}, "
                     f"{self.tap(op, 0)});", "attend")


def _scale_layout(quant: fpq.QuantAttr, k: int) -> tuple[int, int]:
    """(scales per row, elements per scale) along a reduction of ``k``; (0, k) per tensor."""
    if quant.granularity.data == "tensor":
        return (0, k)
    g = quant.group_size_for(k)
    return (1, k) if g is None else (k // g, g)

