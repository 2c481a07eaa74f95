"""Import an ONNX model into the ``onnx`` dialect.

``import_onnx("mlp.onnx")`` gives a module and the weight store behind its
``dense_resource`` references, e.g. for ``Linear(64, 128) → ReLU`` at batch 8::

    builtin.module attributes {onnx.opset = 17 : i64, onnx.producer = "pytorch 2.13.0"} {
      func.func @main(%arg0: tensor<8x64xf32> {onnx.name = "x"}) -> (tensor<8x128xf32> {onnx.name = "y"}) {
        %0 = onnx.Constant dense_resource<fc.weight> : tensor<128x64xf32>
        %1 = onnx.Constant dense_resource<fc.bias> : tensor<128xf32>
        %2 = onnx.Gemm %arg0, %0, %1 {transB = 1 : i64} : (...) -> tensor<8x128xf32>
        %3 = onnx.Relu %2 : (tensor<8x128xf32>) -> tensor<8x128xf32>
        func.return %3 : tensor<8x128xf32>
      }
    }

The steps, all fpqc's own code (onnxruntime is only a test oracle):

1. :mod:`.loading`: load the protobuf without its external data; initializers
   are read lazily, on first use, as read-only views (``np.memmap`` of the
   external-data file, ``np.frombuffer`` of in-file ``raw_data``), so
   importing never copies the weights; check that every node is an op of
   :data:`fpqc.dialects.onnx.ONNX_OPS` before building anything;
2. :mod:`.class_dropout`: fold VAR's training-time class dropout;
3. :mod:`.liveness`: dead-code elimination: keep the nodes the graph outputs
   are reachable from, in topological order;
4. :mod:`.importer`: walk the live nodes, typing each op with its
   ``infer_types`` from the input shapes (or the ``input_shapes`` given for
   dynamic dims), its attributes converted by :mod:`.nodes`;
5. :mod:`.folding`: fold ``Shape`` and small all-constant nodes into
   constants; an ``Identity`` node is its operand.  Other ops that compute
   nothing (a ``Cast`` to the operand's own type, say) stay, one op per node:
   ``canonicalize-onnx`` removes them.

After import every tensor has a static shape.

Older-opset spellings are normalised: an ``axes`` or ``split`` attribute
(opset < 13/18) becomes the constant input of the same name, a ``Split``
without sizes gets ``num_outputs`` = its output count, and a ``Softmax`` of
opset < 13 is accepted over the last axis only (where the old and new
semantics agree).

Initializers and constants become ``onnx.Constant`` ops, created just before
their first use: arrays of up to :data:`fpqc.weights.INLINE_LIMIT` elements
inline, larger ones in the weight store under a key derived from the ONNX
name.  The same file always gives byte-identical IR.  Each node costs O(1) work beyond its own
operands and results, so importing scales linearly with the node count.
"""

from fpqc.frontend.onnx_import.class_dropout import class_dropout_aliases
from fpqc.frontend.onnx_import.importer import import_onnx

__all__ = ["class_dropout_aliases", "import_onnx"]
