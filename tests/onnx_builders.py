"""ONNX models for the frontend tests, built node by node with ``onnx.helper`` the way
``torch.onnx.export`` writes them (NCHW, OIHW conv weights, pads [top, left, bottom, right]),
plus an independent MAC count taken from the ONNX graph itself."""

from __future__ import annotations

import math

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from simaccel.model import Model


class GraphBuilder:
    """Nodes, initializers and value names of one ONNX graph under construction."""

    def __init__(self, seed: int = 0, scalar_nodes: bool = True) -> None:
        self.scalar_nodes = scalar_nodes
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self.rng = np.random.default_rng(seed)
        self.shapes: dict[str, tuple[int, ...]] = {}  # of tensors, where a builder needs one
        self._n = 0

    def fresh(self, hint: str) -> str:
        self._n += 1
        return f"{hint}_{self._n}"

    def const(self, value: np.ndarray | float | list, hint: str = "c",
              dtype: type = np.float32) -> str:
        """An initializer holding ``value``."""
        name = self.fresh(hint)
        self.inits.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name

    def scalar(self, value: float, hint: str = "k") -> str:
        """A scalar operand: a ``Constant`` node right here, as ``torch.onnx.export`` writes
        it (``scalar_nodes``), or an initializer."""
        return self.const_node(value, hint) if self.scalar_nodes else self.const(value, hint)

    def const_node(self, value: np.ndarray | float | list, hint: str = "k",
                   dtype: type = np.float32) -> str:
        """A ``Constant`` node holding ``value``, appended where the graph stands now."""
        out = self.fresh(hint)
        tensor = numpy_helper.from_array(np.asarray(value, dtype=dtype), out + "_value")
        self.nodes.append(helper.make_node("Constant", [], [out], name=out, value=tensor))
        return out

    def weight(self, shape: tuple[int, ...], hint: str = "w", scale: float | None = None,
               low: float | None = None) -> str:
        if low is not None:  # strictly positive values (batchnorm variance)
            return self.const(self.rng.uniform(low, 1.5, shape), hint)
        std = scale if scale is not None else 1.0 / math.sqrt(max(1, math.prod(shape[1:])))
        return self.const(self.rng.normal(0.0, std, shape), hint)

    def op(self, op_type: str, inputs: list[str], hint: str | None = None, n_out: int = 1,
           **attrs: object) -> str:
        """Append a node; returns its (first) output name."""
        name = self.fresh(hint or op_type.lower())
        outs = [name] + [f"{name}:{i}" for i in range(1, n_out)]
        self.nodes.append(helper.make_node(op_type, inputs, outs, name=name, **attrs))
        return name

    def model(self, inputs: list[tuple[str, list]], outputs: list[str | tuple[str, list]],
              opset: int, name: str = "g") -> onnx.ModelProto:
        """The model; an output given as a name alone gets the shape ONNX infers for it."""
        outs = [o if isinstance(o, tuple) else (o, None) for o in outputs]
        graph = helper.make_graph(
            self.nodes, name,
            [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in inputs],
            [helper.make_tensor_value_info(o, TensorProto.FLOAT, s) for o, s in outs],
            initializer=self.inits)
        proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                                  producer_name="simaccel-tests")
        proto.ir_version = min(proto.ir_version, 10)  # onnxruntime reads IR ≤ 10
        inferred = onnx.shape_inference.infer_shapes(proto, strict_mode=True)
        known = {v.name: v for v in [*inferred.graph.value_info, *inferred.graph.output]}
        for out in proto.graph.output:  # declare the outputs' shapes, as exporters do
            if not out.type.tensor_type.HasField("shape"):
                out.type.CopyFrom(known[out.name].type)
        onnx.checker.check_model(proto, full_check=True)
        return proto


# --- a CNN ----------------------------------------------------------------------------------

def cnn(opset: int) -> onnx.ModelProto:
    """Every CNN op the frontend supports, on a non-square, odd-sized input [1, 3, 17, 15]:
    asymmetric pads, stride + dilation + groups, depthwise, bias and no bias, BN, ReLU,
    Clip(0, 6) with min/max inputs, Sigmoid·Tanh, a residual Add, a channel Concat, MaxPool
    and AveragePool with pads, a 1×1 conv, GlobalAveragePool, Flatten and Gemm with
    transB=1 and alpha/beta ≠ 1. Outputs: the logits [1, 10] and a 4-D map."""
    b = GraphBuilder(seed=opset)
    c1 = b.op("Conv", ["x", b.weight((8, 3, 3, 3)), b.weight((8,), scale=0.1)], "conv1",
              kernel_shape=[3, 3], pads=[1, 0, 2, 1])                           # [1, 8, 18, 14]
    bn = b.op("BatchNormalization", [c1, b.weight((8,), scale=0.3),
                                     b.weight((8,), scale=0.1), b.weight((8,), scale=0.1),
                                     b.weight((8,), low=0.5)], "bn1", epsilon=1e-3)
    r = b.op("Relu", [bn], "relu1")
    c2 = b.op("Conv", [r, b.weight((8, 4, 3, 3))], "conv2_grouped", group=2, kernel_shape=[3, 3],
              strides=[2, 2], dilations=[2, 2], pads=[2, 1, 2, 1])               # [1, 8, 9, 6]
    lo, hi = b.const_node(0.0, "clip_min"), b.const(6.0, "clip_max")
    cl = b.op("Clip", [c2, lo, hi], "relu6")
    dw = b.op("Conv", [cl, b.weight((8, 1, 3, 3)), b.weight((8,), scale=0.1)], "conv3_dw",
              group=8, kernel_shape=[3, 3], pads=[1, 1, 1, 1])                  # [1, 8, 9, 6]
    s = b.op("Sigmoid", [dw], "sigmoid")
    t = b.op("Tanh", [dw], "tanh")
    m = b.op("Mul", [s, t], "gate")
    a = b.op("Add", [m, cl], "residual")
    cat = b.op("Concat", [a, c2], "concat", axis=1)                             # [1, 16, 9, 6]
    mp = b.op("MaxPool", [cat], "maxpool", kernel_shape=[3, 3], strides=[2, 2],
              pads=[1, 1, 1, 1])                                                # [1, 16, 5, 3]
    ap = b.op("AveragePool", [mp], "avgpool", kernel_shape=[3, 2], strides=[1, 1],
              pads=[1, 0, 1, 1], count_include_pad=0)                           # [1, 16, 5, 3]
    c4 = b.op("Conv", [ap, b.weight((12, 16, 1, 1))], "conv4_1x1", kernel_shape=[1, 1])
    gap = b.op("GlobalAveragePool", [c4], "gap")                                # [1, 12, 1, 1]
    fl = b.op("Flatten", [gap], "flatten", axis=1)                              # [1, 12]
    fc = b.op("Gemm", [fl, b.weight((10, 12)), b.weight((10,), scale=0.1)], "fc", transB=1,
              alpha=0.5, beta=2.0)
    return b.model([("x", [1, 3, 17, 15])], [fc, ap], opset, "cnn")


# --- a Keras CNN as tf2onnx writes it ---------------------------------------------------------

def keras_cnn(opset: int) -> onnx.ModelProto:
    """A Keras CNN as tf2onnx converts it: an NHWC input [1, 12, 10, 3] transposed to NCHW
    for each Conv, convs and pools in NCHW, Relu, a transpose back to NHWC before Keras'
    Flatten (so the flatten is in HWC order), a Reshape, then Dense as MatMul + Add, and a
    Softmax. A second output is the last feature map in NHWC."""
    b = GraphBuilder(seed=200 + opset)
    t = b.op("Transpose", ["x"], "conv1__6", perm=[0, 3, 1, 2])
    c1 = b.op("Conv", [t, b.weight((6, 3, 3, 3)), b.weight((6,), scale=0.1)], "conv1",
              kernel_shape=[3, 3], strides=[1, 1], pads=[1, 1, 1, 1])          # [1, 6, 12, 10]
    r1 = b.op("Relu", [c1], "relu1")
    mp = b.op("MaxPool", [r1], "pool1", kernel_shape=[2, 2], strides=[2, 2])   # [1, 6, 6, 5]
    c2 = b.op("Conv", [mp, b.weight((8, 6, 3, 3))], "conv2", kernel_shape=[3, 3],
              auto_pad="SAME_UPPER")                                          # [1, 8, 6, 5]
    r2 = b.op("Relu", [c2], "relu2")
    nhwc = b.op("Transpose", [r2], "flatten__12", perm=[0, 2, 3, 1])          # [1, 6, 5, 8]
    flat = b.op("Reshape", [nhwc, b.const([-1, 240], "flat_shape", np.int64)], "flatten")
    mm = b.op("MatMul", [flat, b.weight((240, 10), "dense_w")], "dense")
    add = b.op("Add", [mm, b.weight((10,), "dense_b", scale=0.1)], "dense_bias")
    sm = b.op("Softmax", [add], "softmax", axis=-1)
    return b.model([("x", [1, 12, 10, 3])], [sm, nhwc], opset, "keras")


# --- an attention block ---------------------------------------------------------------------

def _target_shape(b: GraphBuilder, src: str, keep: int, tail: list[int],
                  subgraph: bool) -> str:
    """The shape [src.shape[0], …, src.shape[keep - 1], *tail]: computed from ``src`` by the
    exporters' Shape → Gather → Unsqueeze → Concat subgraph, or (``subgraph`` false) a constant
    as a constant-folding exporter writes it."""
    if not subgraph:
        return b.const(list(b.shapes[src][:keep]) + tail, "target", np.int64)
    shape = b.op("Shape", [src], "shape")
    dims = []
    for axis in range(keep):
        g = b.op("Gather", [shape, b.const(axis, "idx", np.int64)], "gather", axis=0)
        dims.append(b.op("Unsqueeze", [g, b.const([0], "axes", np.int64)], "unsq"))
    return b.op("Concat", [*dims, *(b.const([d], "d", np.int64) for d in tail)], "target",
                axis=0)


def _dense(b: GraphBuilder, x: str, d_in: int, d_out: int, hint: str) -> str:
    mm = b.op("MatMul", [x, b.weight((d_in, d_out), hint + "_w")], hint)
    return b.op("Add", [mm, b.weight((d_out,), hint + "_b", scale=0.1)], hint + "_bias")


def _layernorm(b: GraphBuilder, x: str, d: int, decomposed: bool, opset: int, hint: str) -> str:
    gamma = b.const(1.0 + 0.1 * b.rng.standard_normal(d), hint + "_gamma")
    beta = b.weight((d,), hint + "_beta", scale=0.1)
    if not decomposed:
        return b.op("LayerNormalization", [x, gamma, beta], hint, axis=-1, epsilon=1e-5)

    def reduce_mean(v: str) -> str:
        if opset >= 18:
            return b.op("ReduceMean", [v, b.const([-1], "axes", np.int64)], hint + "_mean")
        return b.op("ReduceMean", [v], hint + "_mean", axes=[-1])

    mean = reduce_mean(x)
    sub = b.op("Sub", [x, mean], hint + "_sub")
    sq = b.op("Pow", [sub, b.scalar(2.0, "two")], hint + "_pow")
    var = reduce_mean(sq)
    eps = b.op("Add", [var, b.scalar(1e-5, "eps")], hint + "_eps")
    std = b.op("Sqrt", [eps], hint + "_sqrt")
    div = b.op("Div", [sub, std], hint + "_div")
    mul = b.op("Mul", [div, gamma], hint + "_gamma_mul")
    return b.op("Add", [mul, beta], hint + "_beta_add")


def _gelu(b: GraphBuilder, x: str, as_op: bool, approximate: str | None = None) -> str:
    if as_op:
        attrs = {"approximate": approximate} if approximate else {}
        return b.op("Gelu", [x], "gelu", **attrs)
    div = b.op("Div", [x, b.scalar(math.sqrt(2.0), "sqrt2")], "gelu_div")
    erf = b.op("Erf", [div], "gelu_erf")
    add = b.op("Add", [erf, b.scalar(1.0, "one")], "gelu_add")
    mul = b.op("Mul", [x, add], "gelu_mul")
    return b.op("Mul", [mul, b.scalar(0.5, "half")], "gelu_half")


def attention(opset: int, decomposed_ln: bool, gelu_op: bool, shape_subgraph: bool = True,
              scalar_nodes: bool = True, seq: int = 6, dim: int = 16, heads: int = 2,
              gelu_approximate: str | None = None) -> onnx.ModelProto:
    """One BERT encoder layer on x [1, seq, dim] as exporters write it: Q/K/V dense (MatMul +
    Add), heads split by Reshape (target from the Shape subgraph or a constant) and
    Transpose (K to [B, h, dh, S]), QKᵀ / √dh, softmax, ·V, heads merged back, output dense,
    residual, LayerNorm (the op, or its decomposed pattern), a GELU FFN (the Erf pattern or
    the Gelu op), residual, LayerNorm, then Squeeze/Unsqueeze of the batch axis.
    ``scalar_nodes``: scalars as Constant nodes just before their use (torch) or
    initializers."""
    b = GraphBuilder(seed=100 + opset, scalar_nodes=scalar_nodes)
    b.shapes["x"] = (1, seq, dim)
    dh = dim // heads
    split = {}
    for name, perm in (("q", [0, 2, 1, 3]), ("k", [0, 2, 3, 1]), ("v", [0, 2, 1, 3])):
        proj = _dense(b, "x", dim, dim, name)
        target = _target_shape(b, "x", 2, [heads, dh], shape_subgraph)
        r = b.op("Reshape", [proj, target], name + "_split")                   # [1, S, h, dh]
        split[name] = b.op("Transpose", [r], name + "_heads", perm=perm)
    scores = b.op("MatMul", [split["q"], split["k"]], "scores")                # [1, h, S, S]
    scaled = b.op("Div", [scores, b.scalar(math.sqrt(dh), "sqrt_dh")], "scale")
    probs = b.op("Softmax", [scaled], "softmax", axis=-1)
    ctx = b.op("MatMul", [probs, split["v"]], "context")                       # [1, h, S, dh]
    ctx = b.op("Transpose", [ctx], "merge_t", perm=[0, 2, 1, 3])               # [1, S, h, dh]
    b.shapes[ctx] = (1, seq, heads, dh)
    ctx = b.op("Reshape", [ctx, _target_shape(b, ctx, 2, [dim], shape_subgraph)],
               "merge_heads")                                                  # [1, S, D]
    attn = _dense(b, ctx, dim, dim, "attn_out")
    ln1 = _layernorm(b, b.op("Add", [attn, "x"], "res1"), dim, decomposed_ln, opset, "ln1")
    h = _gelu(b, _dense(b, ln1, dim, 4 * dim, "ffn_in"), gelu_op, gelu_approximate)
    ffn = _dense(b, h, 4 * dim, dim, "ffn_out")
    ln2 = _layernorm(b, b.op("Add", [ffn, ln1], "res2"), dim, decomposed_ln, opset, "ln2")
    sq = b.op("Squeeze", [ln2, b.const([0], "axes", np.int64)], "squeeze")     # [S, D]
    out = b.op("Unsqueeze", [sq, b.const([0], "axes", np.int64)], "unsqueeze") # [1, S, D]
    return b.model([("x", [1, seq, dim])], [(out, [1, seq, dim])], opset, "encoder")


# --- MACs counted from the ONNX graph -------------------------------------------------------

def onnx_shapes(proto: onnx.ModelProto) -> dict[str, tuple[int, ...]]:
    """Every tensor's static shape by ONNX shape inference (with data propagation, so a
    Reshape target computed by a Shape subgraph is known). Opset 13's Reshape cannot infer
    through such a subgraph; tensors left without a static shape are measured by running the
    model in onnxruntime on zeros."""
    inferred = onnx.shape_inference.infer_shapes(proto, strict_mode=True, data_prop=True)
    g = inferred.graph
    shapes = {i.name: tuple(i.dims) for i in g.initializer}
    unknown = []
    for v in [*g.input, *g.value_info, *g.output]:
        t = v.type.tensor_type
        dims = tuple(d.dim_value for d in t.shape.dim)
        if t.HasField("shape") and all(d > 0 for d in dims):
            shapes[v.name] = dims
        else:
            unknown.append(v.name)
    if unknown:
        import onnxruntime as ort

        probe = onnx.ModelProto()
        probe.CopyFrom(proto)
        del probe.graph.output[:]
        probe.graph.output.extend(onnx.ValueInfoProto(name=n) for n in unknown)
        session = ort.InferenceSession(probe.SerializeToString(),
                                       providers=["CPUExecutionProvider"])
        feeds = {i.name: np.zeros([d.dim_value for d in i.type.tensor_type.shape.dim],
                                  np.float32) for i in proto.graph.input}
        for name, value in zip(unknown, session.run(unknown, feeds), strict=True):
            shapes[name] = value.shape
    return shapes


def onnx_macs(proto: onnx.ModelProto) -> int:
    """Multiply-accumulates of every Conv, Gemm, MatMul and RNN, counted from the ONNX graph:
    Conv: output elements × C_in/group × window; Gemm/MatMul: output elements × K;
    LSTM/GRU/RNN: directions × steps × batch × gates·hidden × (input + hidden)."""
    shapes = onnx_shapes(proto)
    total = 0
    for node in proto.graph.node:
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        out = math.prod(shapes[node.output[0]])
        if node.op_type in ("Conv", "ConvInteger", "QLinearConv"):
            w = node.input[3 if node.op_type == "QLinearConv" else 1]
            _, cin_per_group, *window = shapes[w]
            total += out * cin_per_group * math.prod(window)
        elif node.op_type == "Gemm":
            a = shapes[node.input[0]]
            total += out * (a[0] if attrs.get("transA", 0) else a[1])
        elif node.op_type in ("MatMul", "MatMulInteger", "QLinearMatMul"):
            total += out * shapes[node.input[0]][-1]
        elif node.op_type == "ConvTranspose":  # input elements × C_out/group × window
            _, cout_per_group, *window = shapes[node.input[1]]
            total += math.prod(shapes[node.input[0]]) * cout_per_group * math.prod(window)
        elif node.op_type == "Einsum":  # output elements × the sizes of summed indices
            terms, _, result = attrs["equation"].decode().replace(" ", "").partition("->")
            size = {}
            for term, name in zip(terms.split(","), node.input, strict=True):
                pre, _, post = term.partition("...")  # "..." axes are never summed here
                dims = shapes[name]
                size.update(zip(pre, dims, strict=False))
                size.update(zip(post, dims[len(dims) - len(post):], strict=True))
            total += out * math.prod(size[c] for c in set(size) - set(result))
        elif node.op_type in ("LSTM", "GRU", "RNN"):  # directions × steps × batch × G·H × (I + H)
            dirs, gates_hidden, features = shapes[node.input[1]]
            steps, batch, _ = shapes[node.input[0]]
            hidden = shapes[node.input[2]][2]
            total += dirs * steps * batch * gates_hidden * (features + hidden)
    return total


# --- a simaccel model as torch would export it ----------------------------------------------

def export_like_torch(model: Model, params: dict, opset: int = 17) -> onnx.ModelProto:
    """``model`` (conv2d, batchnorm, relu, relu6, maxpool2d, add, global_avgpool, dense) as an
    ONNX graph the way ``torch.onnx.export`` writes it: NCHW activations, Conv with OIHW
    weights and pads [top, left, bottom, right], BatchNormalization, Relu, Clip(0, 6) with
    min/max inputs, MaxPool, Add, GlobalAveragePool → Flatten → Gemm(transB=1)."""
    from simaccel.graph import build_graph
    from simaccel.shapes import resolve_padding

    graph = build_graph(model)
    b = GraphBuilder()
    (spec,) = model.inputs
    names = {spec.name: spec.name}  # simaccel tensor → ONNX tensor
    for layer_name in graph.order:
        layer = graph.layer(layer_name)
        p = params.get(layer_name, {})
        ins = [names[t] for t in layer.inputs]
        op = layer.op
        if op == "conv2d":
            shape = graph.shapes[layer.inputs[0]]
            pads = resolve_padding(layer.padding, shape[1:3], layer.kernel, layer.stride,
                                   layer.dilation)
            w = b.const(p["kernel"].transpose(3, 2, 0, 1), layer_name + ".weight")
            args = [ins[0], w] + ([b.const(p["bias"], layer_name + ".bias")] if layer.bias
                                  else [])
            out = b.op("Conv", args, layer_name, kernel_shape=list(layer.kernel),
                       strides=list(layer.stride), dilations=list(layer.dilation),
                       group=layer.groups, pads=[pads[0], pads[2], pads[1], pads[3]])
        elif op == "batchnorm":
            out = b.op("BatchNormalization",
                       [ins[0]] + [b.const(p[k], f"{layer_name}.{k}")
                                   for k in ("gamma", "beta", "mean", "var")],
                       layer_name, epsilon=layer.epsilon)
        elif op == "relu":
            out = b.op("Relu", ins, layer_name)
        elif op == "relu6":
            out = b.op("Clip", [ins[0], b.const_node(0.0), b.const_node(6.0)], layer_name)
        elif op == "maxpool2d":
            shape = graph.shapes[layer.inputs[0]]
            stride = layer.stride or layer.pool
            pads = resolve_padding(layer.padding, shape[1:3], layer.pool, stride)
            out = b.op("MaxPool", ins, layer_name, kernel_shape=list(layer.pool),
                       strides=list(stride), pads=[pads[0], pads[2], pads[1], pads[3]])
        elif op == "add":
            out = b.op("Add", ins, layer_name)
        elif op == "global_avgpool":
            gap = b.op("GlobalAveragePool", ins, layer_name)
            out = b.op("Flatten", [gap], layer_name + ".flatten", axis=1)
        elif op == "dense":
            w = b.const(p["kernel"].T, layer_name + ".weight")
            args = [ins[0], w] + ([b.const(p["bias"], layer_name + ".bias")] if layer.bias
                                  else [])
            out = b.op("Gemm", args, layer_name, transB=1)
        else:
            raise NotImplementedError(op)
        names[layer_name] = out
    n, h, w_, c = spec.shape
    return b.model([(spec.name, [n, c, h, w_])], [names[o] for o in model.outputs], opset,
                   model.name)
