"""Datasets for ``simaccel train``: what ships inside an installed package, nothing
downloaded. ``digits``: scikit-learn's 8×8 handwritten digits (1,797 images, 10 classes),
split 75% / 25% stratified with seed 0 (`split_digits`, the split scripts/train_digits.py
trains the shipped weights on)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simaccel.errors import InputError

#: The digits split's held-out share and seed (scripts/train_digits.py's).
DIGITS_TEST_SHARE, DIGITS_SEED = 0.25, 0
#: Per dataset: the shape of one image (NHWC without the batch) and the number of classes.
SHAPES = {"digits": ((8, 8, 1), 10)}


@dataclass(frozen=True)
class Dataset:
    """Images NHWC in [0, 1] (float64) and integer labels, for training and for testing."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def split_digits() -> Dataset:
    """scikit-learn's digits, pixel values /16, split stratified (seed 0). Raises
    `InputError` when scikit-learn is not installed."""
    try:
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split
    except ImportError:
        raise InputError("--data digits", "", "needs scikit-learn: pip install "
                         "'simaccel[train]'") from None
    digits = load_digits()
    images = (digits.images / 16.0)[..., None]
    x_train, x_test, y_train, y_test = train_test_split(
        images, digits.target, test_size=DIGITS_TEST_SHARE, random_state=DIGITS_SEED,
        stratify=digits.target)
    return Dataset("digits", x_train, y_train.astype(np.int64), x_test,
                   y_test.astype(np.int64))


LOADERS = {"digits": split_digits}


def check_fits(model, name: str, output_shape: tuple[int, ...]) -> None:
    """``model`` takes dataset ``name``'s images (one input, of their shape after the
    batch) and its output ``output_shape`` has a value per class; else `InputError` naming
    the model's field. Needs nothing loaded."""
    image, classes = SHAPES[name]
    if len(model.inputs) != 1 or tuple(model.inputs[0].shape[1:]) != image:
        shapes = [list(spec.shape) for spec in model.inputs]
        raise InputError(model.source, "inputs", f"{shapes} do not take the {name} images: "
                         f"one input of shape [batch, {', '.join(map(str, image))}]")
    if output_shape[-1] < classes:
        raise InputError(model.source, "outputs[0]", f"{output_shape[-1]} values per row; "
                         f"the {name} labels need {classes} (one per class)")


def load(name: str) -> Dataset:
    """The dataset called ``name`` (a key of `LOADERS`)."""
    return LOADERS[name]()
