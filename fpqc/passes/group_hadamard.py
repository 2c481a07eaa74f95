"""Group-wise Hadamard transformation (FPQVAR's GHT) of selected linear layers.

Runs at float level, before ``quantize``.  For each ``fpq.linear`` with a
selected ``fpq.role`` (default ``mat_qkv,fc1``) and a constant weight
``W [O, K]``, with ``Q = blockdiag(D_b·H/√block)`` (:func:`ght_matrix`: Sylvester
Hadamard blocks of ``block`` channels, random ±1 diagonal ``D``):

* the weight becomes ``W·Q``, computed in float64 block by block
  (:func:`fold_weight`) when it is read, and stored fp32; the bias is unchanged;
* the input ``x`` is replaced by ``x·Q``: an ``fpq.hadamard`` is inserted
  after ``x``'s definition.  Since ``Q`` is orthogonal the layer computes
  the same function, ``(x·Q)·(W·Q)ᵀ = x·Wᵀ``, while outliers are spread over
  each block before quantization.

Seeds.  Linear layers that read the same value share one ``Q`` and one
``fpq.hadamard`` (the transform is applied to the value, not per layer).
The n-th distinct transformed input in program order (n = 0, 1, ...) uses
``seed + n`` for its signs; in a raised VAR that is block i's ``mat_qkv``
input at n = 2i and its ``fc1`` input at n = 2i + 1.  ``shared-signs=true``
gives every input the signs of ``seed`` instead, as the FPQVAR authors' code
reuses one transform for every layer.

Folding the signs (``fold-signs=true``, the default).  When ``x`` is an
``fpq.modulate`` result, ``LN(h)·(1 + scale) + shift``, whose ``scale`` and
``shift`` are chunks of an ``fpq.split`` of an AdaLN ``fpq.linear`` with
constant weights (as ``raise-onnx-to-fpq`` builds AdaLN), and nothing else
reads those chunks, that AdaLN output or the modulation, the signs ``D`` go
into the AdaLN linear's rows for the two chunks::

    (LN(h)·(1 + scale) + shift)·D = LN(h)·(1 + scale') + shift'
    scale' = D·scale + (D − 1)   →  W_scale' = D·W_scale,  b_scale' = D·b_scale + (D − 1)
    shift' = D·shift             →  W_shift' = D·W_shift,  b_shift' = D·b_shift

(float64, stored fp32; a missing bias becomes one) and the online op is a
pure FWHT, ``fpq.hadamard`` without signs.  Otherwise the signs stay an
operand of ``fpq.hadamard`` (:func:`ght_f32`).  Only ``b_scale'`` for a −1
sign is not exact in fp32 (``−b − 2`` rounds once); the other folds are
exact sign flips.

Options: ``roles``, ``block`` (a power of two dividing every selected K,
default 128), ``seed`` (default 0), ``shared-signs`` (default false),
``fold-signs`` (default true).

Before::

    %sc, %sh = ... fpq.split %ada ...          (%ada = fpq.linear ... {fpq.role = "ada_lin"})
    %m = fpq.modulate %n, %sc, %sh : (...) -> tensor<1x30x256xf32>
    %y = fpq.linear %m, %w, %b {fpq.role = "fc1"} : (...) -> tensor<1x30x1024xf32>

After (``group-hadamard{block=128}``; ``%ada``'s weight and bias rows for
``%sc`` and ``%sh`` carry the signs, ``%w_ght = W·Q``)::

    %m = fpq.modulate %n, %sc, %sh : (...) -> tensor<1x30x256xf32>
    %m_ght = fpq.hadamard %m {block = 128 : i64} : tensor<1x30x256xf32>
    %y = fpq.linear %m_ght, %w_ght, %b {fpq.role = "fc1"} : (...) -> tensor<1x30x1024xf32>

With ``fold-signs=false`` (or when the input is not such a modulation)::

    %signs = fpq.constant dense<[1.0, -1.0, ...]> : tensor<256xf32>
    %m_ght = fpq.hadamard %m, %signs {block = 128 : i64} : tensor<1x30x256xf32>, tensor<256xf32>
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp, TensorType
from xdsl.ir import Block, SSAValue
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import PatternRewriter
from xdsl.rewriter import InsertPoint
from xdsl.transforms.dead_code_elimination import region_dce

from fpqc.dialects import fpq
from fpqc.errors import FpqcError
from fpqc.numerics.hadamard import fold_weight, ght_congruence, random_signs
from fpqc.passes.constants import constant_key, constant_value, derived_constant, is_constant, new_constant
from fpqc.passes.input_hessians import transform_input_hessian
from fpqc.passes.role_options import check_roles


@dataclass
class AdaLNFold:
    """Per-channel factors to fold into an AdaLN linear's rows, collected chunk by chunk.

    ``fold(rows, d, is_scale)`` multiplies the modulation by a per-channel
    ``d`` (the GHT signs, or GALT's smoothing): ``scale' = d·scale + (d − 1)``
    for a scale chunk, ``shift' = d·shift`` for a shift chunk.  ``rewrite``
    gives the AdaLN linear a new weight and bias: the products in float64,
    stored fp32; the weight is computed when it is read.
    """

    linear: fpq.LinearOp
    folds: list[tuple[slice, np.ndarray, bool]] = field(default_factory=list)

    def fold(self, rows: slice, d: np.ndarray, is_scale: bool) -> None:
        self.folds.append((rows, d, is_scale))

    def folded_weight(self, weight: np.ndarray) -> np.ndarray:
        """``weight`` with its folded rows multiplied by their factors in float64, as fp32."""
        out = np.array(weight, dtype=np.float32, order="C")
        for rows in dict.fromkeys((r.start, r.stop) for r, _, _ in self.folds):
            block = weight[slice(*rows)].astype(np.float64)
            for r, d, _ in self.folds:
                if (r.start, r.stop) == rows:
                    block *= d[:, None]
            out[slice(*rows)] = block
        return out

    def folded_bias(self, bias: np.ndarray | None) -> np.ndarray:
        """The bias (zeros when there is none) after every fold, as fp32."""
        out = np.zeros(self.linear.result.type.get_shape()[-1]) if bias is None else np.array(bias, dtype=np.float64)
        for rows, d, is_scale in self.folds:
            out[rows] = d * out[rows] + ((d - 1) if is_scale else 0)
        return out.astype(np.float32)

    def rewrite(self, rewriter: PatternRewriter, suffix: str) -> None:
        linear = self.linear
        hint = constant_key(linear.weight) or "ada_lin.weight"
        weight = derived_constant(f"{hint}.{suffix}", linear.weight, self.folded_weight)
        bias_hint = (constant_key(linear.bias) if linear.bias is not None else None) or hint + ".bias"
        bias_value = constant_value(linear.bias) if linear.bias is not None else None
        bias = new_constant(f"{bias_hint}.{suffix}", self.folded_bias(bias_value))
        new = fpq.LinearOp(linear.input, weight.result, bias.result, linear.result.type)
        new.attributes.update(linear.attributes)
        rewriter.insert([weight, bias], InsertPoint.before(linear))
        rewriter.replace(linear, new)


def _chunk_rows(value: SSAValue) -> tuple[fpq.LinearOp, slice] | None:
    """The constant-weight linear layer and its output rows that ``value`` is a split chunk of."""
    split = value.owner
    if not isinstance(split, fpq.SplitOp) or not value.has_one_use():
        return None
    linear = split.input.owner
    if (
        not isinstance(linear, fpq.LinearOp)
        or not linear.result.has_one_use()
        or not is_constant(linear.weight)
        or (linear.bias is not None and not is_constant(linear.bias))
    ):
        return None
    chunk = linear.result.type.get_shape()[-1] // len(split.outputs)
    index = list(split.outputs).index(value)
    return linear, slice(index * chunk, (index + 1) * chunk)


def modulation_chunks(
    x: SSAValue, readers: list[fpq.LinearOp]
) -> tuple[tuple[fpq.LinearOp, slice], tuple[fpq.LinearOp, slice]] | None:
    r"""(scale rows, shift rows) of the AdaLN linears behind ``x`` when a per-channel factor can be folded.

    ``x`` must be an ``fpq.modulate`` read only by ``readers``, its scale and
    shift single-use chunks of ``fpq.split``\ s of constant-weight linears.
    """
    modulate = x.owner
    if not isinstance(modulate, fpq.ModulateOp):
        return None
    if {use.operation for use in x.uses} != set(readers) or modulate.scale == modulate.shift:
        return None
    scale, shift = _chunk_rows(modulate.scale), _chunk_rows(modulate.shift)
    if scale is None or shift is None:
        return None
    channels = x.type.get_shape()[-1]
    if any(rows.stop - rows.start != channels for _, rows in (scale, shift)):
        return None
    return scale, shift


def fold_modulation(
    adaln: dict[fpq.LinearOp, AdaLNFold],
    chunks: tuple[tuple[fpq.LinearOp, slice], tuple[fpq.LinearOp, slice]],
    d: np.ndarray,
) -> None:
    """Multiply the modulation whose (scale rows, shift rows) are ``chunks`` by the per-channel ``d``.

    The AdaLN linears' folds accumulate in ``adaln`` until :meth:`AdaLNFold.rewrite`.
    """
    for (ada, rows), is_scale in zip(chunks, (True, False)):
        if ada not in adaln:
            adaln[ada] = AdaLNFold(ada)
        adaln[ada].fold(rows, d, is_scale)


def transformed_inputs(module: ModuleOp, roles: tuple[str, ...]) -> dict[SSAValue, list[fpq.LinearOp]]:
    r"""Each input to transform, with its readers, in seed order (the n-th gets ``seed + n``).

    The readers are the constant-weight ``fpq.linear``\ s whose ``fpq.role`` is
    in ``roles``; inputs are ordered by their first reader in program order.
    ``galt`` uses this too, so that it learns against the ``Q`` this pass applies.
    """
    readers: dict[SSAValue, list[fpq.LinearOp]] = {}
    for op in module.walk():
        if isinstance(op, fpq.LinearOp) and fpq.role_of(op) in roles and is_constant(op.weight):
            readers.setdefault(op.input, []).append(op)
    return readers


def fold_weights(
    rewriter: PatternRewriter,
    linears: list[fpq.LinearOp],
    fold: Callable[[np.ndarray], np.ndarray],
    congruence: Callable[[np.ndarray], np.ndarray],
    suffix: str,
) -> None:
    """Give each of ``linears`` a new constant weight ``fold(W)`` (stored fp32), inserted before it.

    ``fold`` gets W in any memory order and runs when the new weight is read.
    ``congruence`` maps the second moment ``Xᵀ X`` of the old input rows to that
    of the new ones, for a linear that carries an input Hessian
    (:mod:`fpqc.passes.input_hessians`).
    """
    for linear in linears:
        hint = (constant_key(linear.weight) or "weight") + suffix
        weight = derived_constant(hint, linear.weight, lambda w: fold(w).astype(np.float32, copy=False))
        folded = rewriter.insert(weight, InsertPoint.before(linear))
        rewriter.replace_uses_with_if(linear.weight, folded.result, lambda use, linear=linear: use.operation is linear)
        transform_input_hessian(linear, congruence, suffix)


def _after(value: SSAValue) -> InsertPoint:
    owner = value.owner
    return InsertPoint.at_start(owner) if isinstance(owner, Block) else InsertPoint.after(owner)


@dataclass(frozen=True)
class GroupHadamardPass(ModulePass):
    """Group-wise Hadamard transform of selected linear inputs (see module docstring)."""

    name = "group-hadamard"

    roles: tuple[str, ...] = ("mat_qkv", "fc1")
    block: int = 128
    seed: int = 0
    shared_signs: bool = False
    fold_signs: bool = True

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        check_roles(self.name, "roles", self.roles)
        rewriter = PatternRewriter(InsertPoint.at_start(op.body.block))
        adaln: dict[fpq.LinearOp, AdaLNFold] = {}
        for n, (x, linears) in enumerate(transformed_inputs(op, self.roles).items()):
            self._transform(rewriter, x, linears, self.seed if self.shared_signs else self.seed + n, adaln)
        for fold in adaln.values():
            fold.rewrite(rewriter, "ght_signs")
        region_dce(op.body)

    def _transform(
        self,
        rewriter: PatternRewriter,
        x: SSAValue,
        linears: list[fpq.LinearOp],
        seed: int,
        adaln: dict[fpq.LinearOp, AdaLNFold],
    ) -> None:
        assert isinstance(x.type, TensorType)
        k = x.type.get_shape()[-1]
        role = fpq.role_of(linears[0])
        if self.block <= 0 or self.block & (self.block - 1) or k % self.block:
            raise FpqcError(
                f"group-hadamard: block {self.block} must be a power of two dividing the {k} input "
                f"features of the {role} linear layer; pick a block such as "
                f"{k & -k if k > 0 else 1}"
            )
        signs = random_signs(k, seed)
        fold_weights(
            rewriter,
            linears,
            lambda weight: fold_weight(weight, self.block, seed),
            lambda hessian: ght_congruence(hessian, self.block, seed),
            ".ght",
        )
        chunks = modulation_chunks(x, linears) if self.fold_signs else None
        if chunks is not None:
            fold_modulation(adaln, chunks, signs)
            hadamard = rewriter.insert(fpq.HadamardOp(x, self.block), _after(x))
        else:
            signs_op = rewriter.insert(new_constant(f"ght.signs.{seed}", signs.astype(np.float32)), _after(x))
            hadamard = rewriter.insert(fpq.HadamardOp(x, self.block, signs_op.result), InsertPoint.after(signs_op))
        hadamard.result.name_hint = f"{x.name_hint}_ght" if x.name_hint else "ght"
        rewriter.replace_uses_with_if(x, hadamard.result, lambda use: use.operation in linears)
