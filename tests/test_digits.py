"""The seed's experiment made real: a CNN trained on scikit-learn's 8×8 digits, run on the
accelerator in int8 on the held-out digits, against its fp32 accuracy."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

import simaccel
from simaccel.frontends.model_json import parse_model

pytest.importorskip("sklearn")
ROOT = Path(__file__).resolve().parent.parent


def _split():
    spec = importlib.util.spec_from_file_location("train_digits",
                                                  ROOT / "scripts" / "train_digits.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.split()


def digits_accuracy(config: str) -> tuple[float, float, simaccel.Report]:
    """fp32 and int8-on-accelerator accuracy on the held-out digits (one batched run)."""
    _, _, images, labels = _split()
    path = ROOT / "workloads" / "digits_cnn.json"
    doc = json.loads(path.read_text())
    doc["inputs"][0]["shape"] = [len(images), 8, 8, 1]
    model = parse_model(doc, source=str(path), base_dir=path.parent)
    report = simaccel.simulate(model, simaccel.load_hardware(config), check=True,
                               inputs={"image": images})
    fp32 = float((report.numerics.fp_outputs["fc2"].argmax(1) == labels).mean())
    int8 = float((report.numerics.outputs["fc2"].argmax(1) == labels).mean())
    return fp32, int8, report


@pytest.mark.parametrize("config", ["gemmini", "scalesim_default"])
def test_int8_on_the_accelerator_keeps_fp32_accuracy(config: str) -> None:
    fp32, int8, report = digits_accuracy(config)
    assert fp32 > 0.95 and int8 > 0.95
    assert abs(fp32 - int8) <= 0.01
    assert all(layer["check"]["status"] == "pass" for layer in report.to_dict()["layers"])


def test_weights_are_the_trained_ones() -> None:
    model = simaccel.load_model(ROOT / "workloads" / "digits_cnn.json")
    assert model.weights is not None and set(model.weights) == {
        f"{layer}.{part}" for layer in ("conv1", "conv2", "fc1", "fc2")
        for part in ("kernel", "bias")}
    assert np.asarray(model.weights["conv1.kernel"]).shape == (3, 3, 1, 16)
