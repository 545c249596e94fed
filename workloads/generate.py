#!/usr/bin/env python3
"""Generate the shipped simaccel workload files (format ``simaccel-model/1``).

Run from anywhere::

    python workloads/generate.py

The JSON files are written next to this script. Output is deterministic:
layers are emitted in topological order with a fixed key order
(``name``, ``op``, ``inputs``, then attributes), serialised with
``json.dumps(..., indent=1)`` plus a trailing newline.

Only the Python standard library is used.
"""

import json
import os

FORMAT = "simaccel-model/1"
OUT_DIR = os.path.dirname(os.path.abspath(__file__))

PAD0 = [0, 0, 0, 0]
PAD1 = [1, 1, 1, 1]


class Builder:
    """Accumulates layers for one model, checking name uniqueness."""

    def __init__(self, name, description):
        self.name = name
        self.description = description
        self.inputs = []
        self.layers = []
        self._names = set()

    def _claim(self, name):
        if name in self._names:
            raise ValueError(f"duplicate tensor name {name!r} in {self.name}")
        self._names.add(name)

    def input(self, name, shape, dtype="fp32"):
        self._claim(name)
        self.inputs.append({"name": name, "shape": list(shape), "dtype": dtype})
        return name

    def layer(self, name, op, inputs, **attrs):
        self._claim(name)
        for src in inputs:
            if src not in self._names or src == name:
                raise ValueError(f"{self.name}: unknown input {src!r} for layer {name!r}")
        entry = {"name": name, "op": op, "inputs": list(inputs)}
        entry.update(attrs)
        self.layers.append(entry)
        return name

    # -- convenience wrappers -------------------------------------------
    def conv(self, name, src, filters, kernel, stride, padding, **attrs):
        return self.layer(name, "conv2d", [src], filters=filters, kernel=list(kernel),
                          stride=list(stride), padding=padding, **attrs)

    def model(self, outputs):
        return {
            "format": FORMAT,
            "name": self.name,
            "description": self.description,
            "inputs": self.inputs,
            "layers": self.layers,
            "outputs": list(outputs),
        }


# ---------------------------------------------------------------------------
# MNIST CNN (Keras example)
# ---------------------------------------------------------------------------
def mnist_cnn():
    b = Builder("mnist_cnn",
                "Small MNIST CNN adapted from the Keras 'Simple MNIST convnet' example "
                "(keras.io/examples/vision/mnist_convnet) with a 64-unit hidden dense layer, "
                "28x28x1 input.")
    return _keras_cnn(b, b.input("image", [1, 28, 28, 1]), (32, 64), "valid")


def _keras_cnn(b: Builder, x: str, filters: tuple[int, int], padding: str) -> dict:
    """The Keras example's body on input ``x``: two 3×3 convs (ReLU) each with a 2×2 max
    pool, flatten, dense 64 ReLU, dense 10 softmax."""
    for i, f in enumerate(filters, start=1):
        x = b.conv(f"conv{i}", x, f, [3, 3], [1, 1], padding, activation="relu")
        x = b.layer(f"pool{i}", "maxpool2d", [x], pool=[2, 2], stride=[2, 2], padding="valid")
    x = b.layer("flatten", "flatten", [x])
    x = b.layer("fc1", "dense", [x], units=64, activation="relu")
    x = b.layer("fc2", "dense", [x], units=10, activation="softmax")
    return b.model([x])


# ---------------------------------------------------------------------------
# ResNet-18 / ResNet-50 (torchvision, v1.5: stride on the 3x3 conv)
# ---------------------------------------------------------------------------
def _resnet_stem(b, x):
    x = b.conv("conv1", x, 64, [7, 7], [2, 2], [3, 3, 3, 3], bias=False)
    x = b.layer("bn1", "batchnorm", [x])
    x = b.layer("relu1", "relu", [x])
    x = b.layer("pool1", "maxpool2d", [x], pool=[3, 3], stride=[2, 2], padding=list(PAD1))
    return x


def _downsample(b, prefix, x, filters, stride):
    d = b.conv(prefix + ".downsample.conv", x, filters, [1, 1], [stride, stride],
               list(PAD0), bias=False)
    return b.layer(prefix + ".downsample.bn", "batchnorm", [d])


def _basic_block(b, prefix, x, in_ch, planes, stride):
    identity = x
    y = b.conv(prefix + ".conv1", x, planes, [3, 3], [stride, stride], list(PAD1), bias=False)
    y = b.layer(prefix + ".bn1", "batchnorm", [y])
    y = b.layer(prefix + ".relu1", "relu", [y])
    y = b.conv(prefix + ".conv2", y, planes, [3, 3], [1, 1], list(PAD1), bias=False)
    y = b.layer(prefix + ".bn2", "batchnorm", [y])
    if stride != 1 or in_ch != planes:
        identity = _downsample(b, prefix, x, planes, stride)
    y = b.layer(prefix + ".add", "add", [y, identity])
    return b.layer(prefix + ".relu2", "relu", [y])


def _bottleneck(b, prefix, x, in_ch, planes, stride, expansion=4):
    identity = x
    out_ch = planes * expansion
    y = b.conv(prefix + ".conv1", x, planes, [1, 1], [1, 1], list(PAD0), bias=False)
    y = b.layer(prefix + ".bn1", "batchnorm", [y])
    y = b.layer(prefix + ".relu1", "relu", [y])
    y = b.conv(prefix + ".conv2", y, planes, [3, 3], [stride, stride], list(PAD1), bias=False)
    y = b.layer(prefix + ".bn2", "batchnorm", [y])
    y = b.layer(prefix + ".relu2", "relu", [y])
    y = b.conv(prefix + ".conv3", y, out_ch, [1, 1], [1, 1], list(PAD0), bias=False)
    y = b.layer(prefix + ".bn3", "batchnorm", [y])
    if stride != 1 or in_ch != out_ch:
        identity = _downsample(b, prefix, x, out_ch, stride)
    y = b.layer(prefix + ".add", "add", [y, identity])
    return b.layer(prefix + ".relu3", "relu", [y])


def _resnet(name, description, block, blocks_per_stage, expansion):
    b = Builder(name, description)
    x = b.input("image", [1, 224, 224, 3])
    x = _resnet_stem(b, x)
    in_ch = 64
    widths = [64, 128, 256, 512]
    for stage, (planes, nblocks) in enumerate(zip(widths, blocks_per_stage, strict=True), 1):
        for i in range(nblocks):
            stride = 2 if (stage > 1 and i == 0) else 1
            x = block(b, f"layer{stage}.{i}", x, in_ch, planes, stride)
            in_ch = planes * expansion
    x = b.layer("avgpool", "global_avgpool", [x])
    x = b.layer("fc", "dense", [x], units=1000)
    return b.model([x])


def resnet18():
    return _resnet("resnet18",
                   "torchvision resnet18 topology (BasicBlock x [2,2,2,2]), 224x224x3 input, "
                   "with BatchNorm and ReLU as separate layers.",
                   _basic_block, [2, 2, 2, 2], 1)


def resnet50():
    return _resnet("resnet50",
                   "torchvision resnet50 topology (ResNet v1.5 Bottleneck x [3,4,6,3], stride on "
                   "the 3x3 conv), 224x224x3 input, with BatchNorm and ReLU as separate layers.",
                   _bottleneck, [3, 4, 6, 3], 4)


# ---------------------------------------------------------------------------
# MobileNetV2 1.0 (torchvision)
# ---------------------------------------------------------------------------
def _conv_bn(b, prefix, x, filters, kernel, stride, padding, groups=1, act="relu6"):
    attrs = {"bias": False}
    if groups != 1:
        attrs["groups"] = groups
    x = b.conv(prefix + ".conv", x, filters, kernel, stride, padding, **attrs)
    x = b.layer(prefix + ".bn", "batchnorm", [x])
    if act is not None:
        x = b.layer(prefix + "." + act, act, [x])
    return x


def mobilenet_v2():
    b = Builder("mobilenet_v2",
                "torchvision mobilenet_v2 topology (width 1.0), 224x224x3 input, "
                "with BatchNorm and ReLU6 as separate layers.")
    x = b.input("image", [1, 224, 224, 3])
    x = _conv_bn(b, "features.0", x, 32, [3, 3], [2, 2], list(PAD1))
    in_ch = 32
    idx = 1
    setting = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
               (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]
    for t, c, n, s in setting:
        for i in range(n):
            stride = s if i == 0 else 1
            prefix = f"features.{idx}"
            hidden = in_ch * t
            y = x
            if t != 1:
                y = _conv_bn(b, prefix + ".expand", y, hidden, [1, 1], [1, 1], list(PAD0))
            y = _conv_bn(b, prefix + ".dw", y, hidden, [3, 3], [stride, stride], list(PAD1),
                         groups=hidden)
            y = _conv_bn(b, prefix + ".project", y, c, [1, 1], [1, 1], list(PAD0), act=None)
            if stride == 1 and in_ch == c:
                y = b.layer(prefix + ".add", "add", [x, y])
            x = y
            in_ch = c
            idx += 1
    x = _conv_bn(b, f"features.{idx}", x, 1280, [1, 1], [1, 1], list(PAD0))
    x = b.layer("avgpool", "global_avgpool", [x])
    x = b.layer("classifier", "dense", [x], units=1000)
    return b.model([x])


# ---------------------------------------------------------------------------
# BERT-base encoder layer
# ---------------------------------------------------------------------------
def bert_base_encoder(seq=128, hidden=768, heads=12, ffn=3072):
    head_dim = hidden // heads
    b = Builder("bert_base_encoder",
                "One BERT-base encoder layer (Devlin et al. 2018; HuggingFace BertLayer): "
                "sequence 128, hidden 768, 12 heads of 64, FFN 3072, post-LayerNorm.")
    x = b.input("x", [1, seq, hidden])
    heads_t = {}
    for n in ("q", "k", "v"):
        t = b.layer(f"attn.{n}", "dense", [x], units=hidden)
        t = b.layer(f"attn.{n}.reshape", "reshape", [t], shape=[1, seq, heads, head_dim])
        t = b.layer(f"attn.{n}.transpose", "transpose", [t], perm=[0, 2, 1, 3])
        heads_t[n] = t
    s = b.layer("attn.scores", "matmul", [heads_t["q"], heads_t["k"]],
                transpose_b=True, scale=1.0 / (head_dim ** 0.5))
    p = b.layer("attn.softmax", "softmax", [s])
    c = b.layer("attn.context", "matmul", [p, heads_t["v"]])
    c = b.layer("attn.context.transpose", "transpose", [c], perm=[0, 2, 1, 3])
    c = b.layer("attn.context.reshape", "reshape", [c], shape=[1, seq, hidden])
    o = b.layer("attn.out", "dense", [c], units=hidden)
    o = b.layer("attn.add", "add", [o, x])
    h = b.layer("attn.layernorm", "layernorm", [o], epsilon=1e-12)
    f = b.layer("ffn1", "dense", [h], units=ffn, activation="gelu")
    f = b.layer("ffn2", "dense", [f], units=hidden)
    f = b.layer("ffn.add", "add", [f, h])
    y = b.layer("ffn.layernorm", "layernorm", [f], epsilon=1e-12)
    return b.model([y])


# ---------------------------------------------------------------------------
# GEMM microbenchmarks (no bias: pure M x K x N products)
# ---------------------------------------------------------------------------
def gemm(name, m, k, n):
    b = Builder(name,
                "GEMM microbenchmark: a single dense layer without bias computing "
                f"[{m} x {k}] @ [{k} x {n}] (M={m}, K={k}, N={n}).")
    x = b.input("x", [m, k])
    y = b.layer("gemm", "dense", [x], units=n, bias=False)
    return b.model([y])


def batched_matmul(name, batch, m, k, n):
    b = Builder(name,
                f"Batched matmul microbenchmark: [{batch} x {m} x {k}] @ [{batch} x {k} x {n}] "
                f"(batch={batch}, M={m}, K={k}, N={n}).")
    a = b.input("a", [batch, m, k])
    bb = b.input("b", [batch, k, n])
    y = b.layer("matmul", "matmul", [a, bb])
    return b.model([y])


def digits_cnn():
    """The MNIST CNN adapted to scikit-learn's 8x8 digits, with trained weights."""
    b = Builder("digits_cnn",
                "The Keras MNIST CNN adapted to scikit-learn's 8x8 digits: 3x3 'same' convs "
                "(16, 32 filters) each with ReLU and 2x2 max pooling, dense 64 ReLU, dense 10 "
                "softmax. Weights trained by scripts/train_digits.py.")
    model = _keras_cnn(b, b.input("image", [1, 8, 8, 1]), (16, 32), "same")
    model["weights"] = "digits_cnn.npz"
    return model


# ---------------------------------------------------------------------------
# TPU v1 paper workloads (Jouppi et al., ISCA 2017, Table 1). The paper publishes each
# model's layer count and kind, weight count and batch, not its widths; the widths below
# are simaccel's choice (docs/validation_tpu_v1.md says why).
# ---------------------------------------------------------------------------
def _tpu_mlp(name, description, batch, widths):
    b = Builder(name, description)
    x = b.input("x", [batch, widths[0]])
    for i, units in enumerate(widths[1:], start=1):
        x = b.layer(f"fc{i}", "dense", [x], units=units, activation="relu")
    return b.model([x])


def tpu_mlp0():
    return _tpu_mlp("tpu_mlp0",
                    "MLP0-like (TPU paper Table 1: 5 FC layers, 20M weights, batch 200, "
                    "ReLU): 5 dense layers 2048 -> 2048, 21.0M weights, batch 200. Widths "
                    "are not published; chosen here.", 200, [2048] * 6)


def tpu_mlp1():
    return _tpu_mlp("tpu_mlp1",
                    "MLP1-like (TPU paper Table 1: 4 FC layers, 5M weights, batch 168, "
                    "ReLU): 4 dense layers 1120 -> 1120, 5.02M weights, batch 168. Widths "
                    "are not published; chosen here.", 168, [1120] * 5)


def tpu_cnn0():
    """AlphaGo-policy-network-like (the paper names AlphaGo as one of its CNNs): a 19x19
    board of 48 feature planes, batch 8, 16 'same' convolutions with ReLU."""
    b = Builder("tpu_cnn0",
                "CNN0-like (TPU paper Table 1: 16 conv layers, 8M weights, batch 8, ReLU; "
                "2888 ops per weight byte = batch 8 x 361 uses, i.e. a 19x19 output, as in "
                "AlphaGo): 19x19x48 input, conv 5x5 256, 13 x conv 3x3 256, conv 1x1 256, "
                "conv 1x1 1; 8.04M weights. Widths are not published; chosen here.")
    x = b.input("board", [8, 19, 19, 48])
    x = b.conv("conv1", x, 256, [5, 5], [1, 1], [2, 2, 2, 2], activation="relu")
    for i in range(2, 15):
        x = b.conv(f"conv{i}", x, 256, [3, 3], [1, 1], list(PAD1), activation="relu")
    x = b.conv("conv15", x, 256, [1, 1], [1, 1], list(PAD0), activation="relu")
    x = b.conv("conv16", x, 1, [1, 1], [1, 1], list(PAD0))
    return b.model([x])


MODELS = [
    ("mnist_cnn.json", mnist_cnn),
    ("digits_cnn.json", digits_cnn),
    ("resnet18.json", resnet18),
    ("resnet50.json", resnet50),
    ("mobilenet_v2.json", mobilenet_v2),
    ("bert_base_encoder.json", bert_base_encoder),
    ("gemm_square_1024.json", lambda: gemm("gemm_square_1024", 1024, 1024, 1024)),
    ("gemm_skinny_1x4096x4096.json", lambda: gemm("gemm_skinny_1x4096x4096", 1, 4096, 4096)),
    ("gemm_tall_16384x64x64.json", lambda: gemm("gemm_tall_16384x64x64", 16384, 64, 64)),
    ("matmul_batched_8x256x256x256.json",
     lambda: batched_matmul("matmul_batched_8x256x256x256", 8, 256, 256, 256)),
    ("tpu_mlp0.json", tpu_mlp0),
    ("tpu_mlp1.json", tpu_mlp1),
    ("tpu_cnn0.json", tpu_cnn0),
]


def main():
    for filename, fn in MODELS:
        path = os.path.join(OUT_DIR, filename)
        text = json.dumps(fn(), indent=1) + "\n"
        with open(path, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
        print(f"wrote {os.path.relpath(path)}")


if __name__ == "__main__":
    main()
