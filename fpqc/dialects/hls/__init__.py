"""The ``hls`` dialect: accelerator kernels, the host schedule that launches them, and their hardware plan.

- :mod:`~fpqc.dialects.hls.kernel`: ``hls.kernel`` (a region of the model that
  runs in programmable logic), ``hls.return`` and ``hls.call`` (one launch of a
  kernel in the host schedule ``@main``);
- :mod:`~fpqc.dialects.hls.plan`: ``hls.plan``, the hardware plan the ``tile``
  pass writes into a kernel -- its PE array, DDR ports, loop tiles, on-chip
  buffers and their storage, dataflow stages and the streams between them;
- :mod:`~fpqc.dialects.hls.plan_attributes`: the plan's attributes (storage,
  buffer and stage kinds, port directions, ``#hls.loop``).

A tiled kernel (plan abridged)::

    hls.kernel @kernel_0(%x: tensor<8x128xf32>, %wc: tensor<64x128x!fpq.float<e2m1>>,
                         %ws: tensor<64x1xf32>) -> tensor<8x64xf32>
        attributes {target = "vck190", lanes = 16 : i64} {
      %c, %s = fpq.quantize %x {quant = #fpq.quant<e2m1, token>} : ...
      %y = fpq.qlinear %c, %s, %wc, %ws {...} : ...
      hls.plan {
        hls.pe_array pes 64 lanes 16
        hls.port "x" in 0 %x width 512 burst 8 bundle "gmem0"
        ...
        hls.tile %y [rows 8 by 8, n 64 by 64 on pes, k 128 by 128 on lanes] ii 1
        hls.buffer "qlinear0.x" whole of %c as tensor<8x128x!fpq.float<e2m1>> in lutram banks 1 pack 16 copies 1 bits 4096
        hls.stage 0 "load" load %x, %wc, %ws
        ...
      }
      hls.return %y : tensor<8x64xf32>
    }
"""

from xdsl.ir import Dialect

from fpqc.dialects.hls.kernel import (
    UPDATES_ATTR,
    CallOp,
    KernelOp,
    ReturnOp,
    call_rows,
    is_row_shape,
    launch_rows,
    new_kernel_body,
    updated_arguments,
)
from fpqc.dialects.hls.plan import (
    PLAN_OPS,
    BufferOp,
    PeArrayOp,
    PlanOp,
    PortOp,
    StageOp,
    StreamOp,
    TileOp,
    compute_ops,
    plan_of,
)
from fpqc.dialects.hls.plan_attributes import (
    MOVES,
    PLAN_ATTRS,
    BufferKind,
    BufferKindAttr,
    Direction,
    DirectionAttr,
    LoopAttr,
    StageKind,
    StageKindAttr,
    Storage,
    StorageAttr,
    element_bits,
)

Hls = Dialect("hls", [KernelOp, ReturnOp, CallOp, *PLAN_OPS], [*PLAN_ATTRS])

__all__ = [
    "MOVES",
    "BufferKind",
    "BufferKindAttr",
    "BufferOp",
    "CallOp",
    "Direction",
    "DirectionAttr",
    "Hls",
    "KernelOp",
    "LoopAttr",
    "PeArrayOp",
    "PlanOp",
    "PortOp",
    "ReturnOp",
    "StageKind",
    "StageKindAttr",
    "StageOp",
    "Storage",
    "StorageAttr",
    "StreamOp",
    "TileOp",
    "compute_ops",
    "element_bits",
    "UPDATES_ATTR",
    "call_rows",
    "is_row_shape",
    "launch_rows",
    "updated_arguments",
    "new_kernel_body",
    "plan_of",
]
