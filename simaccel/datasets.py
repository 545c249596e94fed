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


def load(name: str) -> Dataset:
    """The dataset called ``name`` (a key of `LOADERS`)."""
    return LOADERS[name]()
