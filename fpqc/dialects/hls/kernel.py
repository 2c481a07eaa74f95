"""``hls.kernel``, ``hls.return`` and ``hls.call``: accelerator kernels and their launches.

An ``hls.kernel`` is a region of the model that runs in programmable logic.
It is a symbol with a function type and a one-block body, like ``func.func``;
its body holds quantized ``fpq`` ops (``fpq.quantize``, ``fpq.qlinear``,
``fpq.gelu``, ``fpq.dequantize``), each of which the HLS emitter maps to a
template of the header-only library ``fpqc_hls.h``.  The hardware parameters
the emitter needs are properties of the kernel: ``target`` (the target file it
was made for) and ``lanes`` (LUT multipliers issued per cycle).

``@main`` stays a ``func.func``: it is the host schedule.  Ops left in it run
on the host; ``hls.call`` is one kernel launch, whose operands are the
kernel's buffers (activations, and the weights of ``fpq.constant`` ops).
Several calls may launch the same kernel with different buffers: outline-kernels
merges kernels with identical bodies, so the repeated blocks of a transformer
share a handful of kernels.

Example::

    hls.kernel @kernel_0(%x : tensor<8x128xf32>, %wc : tensor<64x128x!fpq.float<e2m1>>,
                         %ws : tensor<64x1xf32>) -> tensor<8x64xf32>
        attributes {lanes = 16 : i64, target = "vck190"} {
      %c, %s = fpq.quantize %x {quant = #fpq.quant<e2m1, token>} : ...
      %y = fpq.qlinear %c, %s, %wc, %ws {...} : ...
      hls.return %y : tensor<8x64xf32>
    }
    func.func @main(%x : tensor<8x128xf32>) -> tensor<8x64xf32> {
      %wc = fpq.constant dense_resource<fc.w> : tensor<64x128xui8> -> tensor<64x128x!fpq.float<e2m1>>
      %ws = fpq.constant dense_resource<fc.s> : tensor<64x1xf32>
      %y = hls.call @kernel_0(%x, %wc, %ws) : (...) -> tensor<8x64xf32>
      func.return %y : tensor<8x64xf32>
    }

A kernel with ``max_rows = N`` serves launches of any number of token rows up
to N (the same transformer block at every scale of a generation): its types
hold N along axis 1 of each row tensor, and a launch may pass row tensors of
n <= N rows -- the same n for all of them -- while every other operand and
result matches exactly.  On the FPGA the row count is a run-time register::

    hls.kernel @kernel_0(%x: tensor<2x64x128xf32>, ...) -> tensor<2x64x128xf32>
        attributes {target = "vck190", lanes = 16 : i64, max_rows = 64 : i64} {...}
    %y = hls.call @kernel_0(%x4, ...) : (tensor<2x4x128xf32>, ...) -> tensor<2x4x128xf32>

The kernel body is an ordinary region: the ``tile`` pass adds the kernel's
hardware plan to it as one ``hls.plan`` op before ``hls.return``
(:mod:`fpqc.dialects.hls.plan`), without changing these three ops.
"""

from __future__ import annotations

from collections.abc import Sequence

from xdsl.dialects.builtin import (
    I64,
    ArrayAttr,
    DictionaryAttr,
    FlatSymbolRefAttrConstr,
    FunctionType,
    IntegerAttr,
    StringAttr,
    SymbolNameConstraint,
    SymbolRefAttr,
    TensorType,
    i64,
)
from xdsl.dialects.utils import parse_func_op_like, print_func_op_like
from xdsl.ir import Attribute, Block, Operation, Region, SSAValue
from xdsl.irdl import (
    IRDLOperation,
    irdl_op_definition,
    opt_prop_def,
    prop_def,
    region_def,
    traits_def,
    var_operand_def,
    var_result_def,
)
from xdsl.parser import Parser
from xdsl.printer import Printer
from xdsl.traits import (
    CallableOpInterface,
    HasParent,
    IsolatedFromAbove,
    IsTerminator,
    ReturnLike,
    SymbolOpInterface,
    SymbolTable,
    SymbolUserOpInterface,
)
from xdsl.utils.exceptions import VerifyException


class _KernelCallable(CallableOpInterface):
    @classmethod
    def get_callable_region(cls, op: Operation) -> Region:
        assert isinstance(op, KernelOp)
        return op.body

    @classmethod
    def get_argument_types(cls, op: Operation) -> tuple[Attribute, ...]:
        assert isinstance(op, KernelOp)
        return op.function_type.inputs.data

    @classmethod
    def get_result_types(cls, op: Operation) -> tuple[Attribute, ...]:
        assert isinstance(op, KernelOp)
        return op.function_type.outputs.data


@irdl_op_definition
class KernelOp(IRDLOperation):
    """An accelerator kernel: a symbol with a function type and a one-block body.

    Printed like ``func.func``; the hardware parameters appear in its
    ``attributes {...}`` dictionary and are held as properties.
    """

    name = "hls.kernel"

    body = region_def("single_block")
    sym_name = prop_def(SymbolNameConstraint())
    function_type = prop_def(FunctionType)
    target = prop_def(StringAttr)
    lanes = prop_def(IntegerAttr[I64])
    max_rows = opt_prop_def(IntegerAttr[I64])
    arg_attrs = opt_prop_def(ArrayAttr[DictionaryAttr])
    res_attrs = opt_prop_def(ArrayAttr[DictionaryAttr])

    traits = traits_def(IsolatedFromAbove(), SymbolOpInterface(), _KernelCallable())

    def __init__(
        self,
        name: str,
        function_type: FunctionType,
        body: Region,
        target: str,
        lanes: int,
    ):
        super().__init__(
            properties={
                "sym_name": StringAttr(name),
                "function_type": function_type,
                "target": StringAttr(target),
                "lanes": IntegerAttr(lanes, i64),
            },
            regions=[body],
        )

    @property
    def args(self) -> tuple[SSAValue, ...]:
        return self.body.block.args

    def get_return_op(self) -> ReturnOp:
        ret = self.body.block.last_op
        assert isinstance(ret, ReturnOp)
        return ret

    def verify_(self) -> None:
        if self.function_type.inputs.data != tuple(self.body.block.arg_types):
            raise VerifyException(
                f"hls.kernel @{self.sym_name.data}: block arguments do not match the function type"
            )
        if self.lanes.value.data <= 0:
            raise VerifyException(f"hls.kernel @{self.sym_name.data}: lanes must be positive")
        if self.max_rows is not None and self.max_rows.value.data <= 0:
            raise VerifyException(f"hls.kernel @{self.sym_name.data}: max_rows must be positive")

    def print(self, printer: Printer) -> None:
        hardware = {"target": self.target, "lanes": self.lanes}
        if self.max_rows is not None:
            hardware["max_rows"] = self.max_rows
        print_func_op_like(
            printer,
            self.sym_name,
            self.function_type,
            self.body,
            {**self.attributes, **hardware},
            arg_attrs=self.arg_attrs,
            res_attrs=self.res_attrs,
            reserved_attr_names=("sym_name", "function_type", "arg_attrs", "res_attrs"),
        )

    @classmethod
    def parse(cls, parser: Parser) -> KernelOp:
        pos = parser.pos
        name, inputs, outputs, region, extra, arg_attrs, res_attrs = parse_func_op_like(
            parser, reserved_attr_names=("sym_name", "function_type")
        )
        attrs = dict(extra.data) if extra is not None else {}
        target, lanes = attrs.pop("target", None), attrs.pop("lanes", None)
        if not isinstance(target, StringAttr) or not isinstance(lanes, IntegerAttr):
            parser.raise_error(
                'hls.kernel needs attributes {target = "<target>", lanes = <int> : i64}', pos
            )
        kernel = cls(name, FunctionType.from_lists(inputs, outputs), region, target.data, lanes.value.data)
        max_rows = attrs.pop("max_rows", None)
        if max_rows is not None:
            if not isinstance(max_rows, IntegerAttr):
                parser.raise_error("hls.kernel: max_rows must be an integer (max_rows = <int> : i64)", pos)
            kernel.max_rows = IntegerAttr(max_rows.value.data, i64)
        for key, value in (("arg_attrs", arg_attrs), ("res_attrs", res_attrs)):
            if value is not None:
                kernel.properties[key] = value
        kernel.attributes.update(attrs)
        return kernel


@irdl_op_definition
class ReturnOp(IRDLOperation):
    """Terminates an ``hls.kernel``, yielding its results."""

    name = "hls.return"

    arguments = var_operand_def()

    traits = traits_def(HasParent(KernelOp), IsTerminator(), ReturnLike())

    assembly_format = "attr-dict ($arguments^ `:` type($arguments))?"

    def __init__(self, *values: SSAValue | Operation):
        super().__init__(operands=[values])

    def verify_(self) -> None:
        kernel = self.parent_op()
        assert isinstance(kernel, KernelOp)
        if kernel.function_type.outputs.data != self.arguments.types:
            raise VerifyException(
                f"hls.return: types {[str(t) for t in self.arguments.types]} do not match the "
                f"results of @{kernel.sym_name.data}"
            )


UPDATES_ATTR = "hls.updates"
"""Result attribute of an ``hls.kernel``: this result is argument N updated in place (a KV cache)."""


def updated_arguments(kernel: KernelOp) -> dict[int, int]:
    """Result index -> the argument it updates in place (``hls.updates``)."""
    out = {}
    if kernel.res_attrs is not None:
        for j, attrs in enumerate(kernel.res_attrs.data):
            index = attrs.data.get(UPDATES_ATTR)
            if isinstance(index, IntegerAttr):
                out[j] = index.value.data
    return out


def launch_rows(pairs: Sequence[tuple[Attribute, Attribute]], max_rows: int | None) -> int | None:
    """The token rows of a launch from (kernel type, launch type) pairs, or None when they do not fit.

    Equal types fit; with ``max_rows``, so does a row tensor (axis 1 of the kernel's type is
    ``max_rows``) launched with n <= max_rows rows, the same n for every row tensor.  A launch
    whose types all equal the kernel's has ``max_rows`` rows (0 for a kernel without it).
    """
    rows: set[int] = set()
    for kernel_type, launch_type in pairs:
        if kernel_type == launch_type:
            continue
        if (
            max_rows is None
            or not isinstance(kernel_type, TensorType)
            or not isinstance(launch_type, TensorType)
            or kernel_type.get_element_type() != launch_type.get_element_type()
        ):
            return None
        want, got = list(kernel_type.get_shape()), list(launch_type.get_shape())
        if len(want) < 2 or len(got) != len(want) or want[1] != max_rows or not 0 < got[1] <= max_rows:
            return None
        if want[:1] + want[2:] != got[:1] + got[2:]:
            return None
        rows.add(got[1])
    if len(rows) > 1:
        return None
    return rows.pop() if rows else (max_rows or 0)


def call_rows(kernel: KernelOp, call: CallOp) -> int | None:
    """The token rows ``call`` launches ``kernel`` with (:func:`launch_rows`), None when its types do not fit."""
    expected = kernel.function_type
    if len(expected.inputs.data) != len(call.arguments.types) or len(expected.outputs.data) != len(call.res.types):
        return None
    pairs = [*zip(expected.inputs.data, call.arguments.types), *zip(expected.outputs.data, call.res.types)]
    return launch_rows(pairs, kernel.max_rows.value.data if kernel.max_rows is not None else None)


def is_row_shape(shape: Sequence[int], max_rows: int | None) -> bool:
    """Whether a tensor of this shape in a kernel with ``max_rows`` holds the launch's token rows:
    ``[B, max_rows, ...]``."""
    return max_rows is not None and len(shape) >= 3 and shape[1] == max_rows


class _CallSymbolUser(SymbolUserOpInterface):
    def verify(self, op: Operation) -> None:
        assert isinstance(op, CallOp)
        kernel = SymbolTable.lookup_symbol(op, op.callee)
        if not isinstance(kernel, KernelOp):
            raise VerifyException(f"hls.call: '{op.callee}' is not an hls.kernel")
        if call_rows(kernel, op) is None:
            max_rows = kernel.max_rows.value.data if kernel.max_rows is not None else None
            rows = f" (with up to {max_rows} rows on axis 1)" if max_rows is not None else ""
            raise VerifyException(
                f"hls.call: types do not match @{kernel.sym_name.data} : {kernel.function_type}{rows}"
            )


@irdl_op_definition
class CallOp(IRDLOperation):
    """One kernel launch in the host schedule: ``hls.call @kernel_0(%a, %b) : (...) -> (...)``."""

    name = "hls.call"

    arguments = var_operand_def()
    callee = prop_def(FlatSymbolRefAttrConstr)
    res = var_result_def()

    traits = traits_def(_CallSymbolUser())

    assembly_format = "$callee `(` $arguments `)` attr-dict `:` functional-type($arguments, $res)"

    def __init__(self, callee: str, arguments: Sequence[SSAValue], result_types: Sequence[Attribute]):
        super().__init__(
            operands=[arguments],
            result_types=[result_types],
            properties={"callee": SymbolRefAttr(callee)},
        )


def new_kernel_body(arg_types: Sequence[Attribute]) -> Region:
    """An empty one-block region with arguments of ``arg_types``."""
    return Region(Block(arg_types=arg_types))

