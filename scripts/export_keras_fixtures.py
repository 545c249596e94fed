"""Export the Keras fixtures of tests/test_onnx_exports.py through tf2onnx.

Run by hand (not in CI) where tensorflow-cpu, tf2onnx and onnxruntime are installed (a
separate environment from the torch one); random weights, nothing downloaded. Each model is
written by Keras 3's ``model.export(format="onnx")`` (tf2onnx) into tests/data/onnx_exports/
as ``keras_NAME.onnx`` with its input and onnxruntime's output (``keras_NAME.npz``), and its
MAC count (analytic, per layer, from Keras' own shapes) in ``manifest.json``.

    python scripts/export_keras_fixtures.py
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import onnxruntime as ort  # noqa: E402
import tensorflow as tf  # noqa: E402
import tf2onnx  # noqa: E402
from keras import layers  # noqa: E402

OUT = Path(__file__).resolve().parent.parent / "tests" / "data" / "onnx_exports"


def mobile_cnn() -> keras.Model:
    """ZeroPadding before a strided conv, batchnorms, a depthwise conv, ReLU6, pooling, a
    dense layer followed by a batchnorm (tf2onnx writes it as Mul + Add), softmax."""
    x = inp = keras.Input((32, 32, 3), batch_size=1)
    x = layers.ZeroPadding2D(1)(x)
    x = layers.Conv2D(8, 3, strides=2)(x)
    x = layers.BatchNormalization()(x)
    x = layers.ReLU()(x)
    x = layers.ZeroPadding2D(((0, 1), (0, 1)))(x)
    x = layers.DepthwiseConv2D(3, strides=2)(x)
    x = layers.BatchNormalization()(x)
    x = layers.ReLU(max_value=6.0)(x)
    x = layers.Conv2D(16, 1, padding="same", activation="relu")(x)
    x = layers.MaxPooling2D(2)(x)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dense(16, activation="relu")(x)
    x = layers.BatchNormalization()(x)
    x = layers.Dense(10, activation="softmax")(x)
    return keras.Model(inp, x)


def mnist_cnn() -> keras.Model:
    """A one-channel input, valid convs, flatten in HWC order, dense layers."""
    x = inp = keras.Input((28, 28, 1), batch_size=1)
    x = layers.Conv2D(4, 3, activation="relu")(x)
    x = layers.MaxPooling2D(2)(x)
    x = layers.Conv2D(8, 3, activation="relu")(x)
    x = layers.Flatten()(x)
    x = layers.Dense(10)(x)
    return keras.Model(inp, x)


def lstm() -> keras.Model:
    """Two stacked LSTMs (tf2onnx writes ONNX LSTM nodes) and a dense head."""
    x = inp = keras.Input((6, 8), batch_size=1)
    x = layers.LSTM(16, return_sequences=True)(x)
    x = layers.LSTM(8)(x)
    return keras.Model(inp, layers.Dense(4)(x))


def macs(model: keras.Model) -> int:
    """Conv2D: output pixels × kh·kw·C_in × filters; DepthwiseConv2D: output pixels × kh·kw ×
    channels; Dense: units × inputs per row; LSTM: steps × 4·units × (inputs + units)."""
    total = 0
    for layer in model.layers:
        out = layer.output.shape
        if isinstance(layer, layers.DepthwiseConv2D):
            total += math.prod(out[1:3]) * math.prod(layer.kernel_size) * out[-1]
        elif isinstance(layer, layers.Conv2D):
            cin = layer.input.shape[-1]
            total += math.prod(out[1:3]) * math.prod(layer.kernel_size) * cin * out[-1]
        elif isinstance(layer, layers.LSTM):  # steps × 4 gates · units × (input + units)
            steps, features = layer.input.shape[1:]
            total += steps * 4 * layer.units * (features + layer.units)
        elif isinstance(layer, layers.Dense):
            total += layer.input.shape[-1] * out[-1]
    return total


def randomize(model: keras.Model) -> None:
    rng = np.random.default_rng(1)
    for layer in model.layers:
        if isinstance(layer, layers.BatchNormalization):
            gamma, beta, mean, var = layer.get_weights()
            layer.set_weights([rng.uniform(0.5, 1.5, gamma.shape), rng.normal(0, 0.1, beta.shape),
                               rng.normal(0, 0.1, mean.shape), rng.uniform(0.5, 1.5, var.shape)])


MODELS = {"keras_mobile_cnn": mobile_cnn, "keras_mnist_cnn": mnist_cnn, "keras_lstm": lstm}


def main() -> None:
    manifest_path = OUT / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest.setdefault("versions", {}).update(
        {"tensorflow": tf.__version__, "keras": keras.__version__, "tf2onnx": tf2onnx.__version__})
    for name, build in MODELS.items():
        keras.utils.set_random_seed(sum(map(ord, name)))
        model = build()
        randomize(model)
        path = OUT / f"{name}.onnx"
        x = np.random.default_rng(2).standard_normal((1, *model.input.shape[1:])).astype(
            np.float32)
        reference = np.asarray(model(x))
        model.export(str(path), format="onnx", verbose=False)
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        feeds = {session.get_inputs()[0].name: x}
        outs = session.run(None, feeds)
        arrays = {f"in:{k}": v for k, v in feeds.items()}
        arrays.update({f"out:{o.name}": v for o, v in zip(session.get_outputs(), outs,
                                                           strict=True)})
        np.savez_compressed(path.with_suffix(".npz"), **arrays)
        manifest["files"][name] = {
            "model": name, "exporter": "keras-tf2onnx", "macs": macs(model),
            "source_vs_onnxruntime": float(np.abs(reference - outs[0]).max()),
            "bytes": path.stat().st_size}
        print(f"{name}: {manifest['files'][name]['macs']:,} MACs, "
              f"{path.stat().st_size:,} bytes", flush=True)
        manifest_path.write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
