"""Train the digits CNN on scikit-learn's bundled 8×8 digits and write its weights.

    python scripts/train_digits.py      # writes workloads/digits_cnn.npz (about 60 KiB)

The network is the Keras MNIST CNN adapted to 8×8 inputs: two 3×3 convolutions with
'same' padding (valid would leave nothing of an 8×8 image after two pools), 16 and 32
filters, each followed by ReLU and 2×2 max pooling, then dense 64 ReLU and dense 10 softmax.
Plain numpy: im2col convolutions, backpropagation by hand, Adam. The split (75% training,
25% held out, stratified, seed 0) is `split()`, which the tests use too. Nothing is
downloaded: the digits ship inside scikit-learn.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parent.parent / "workloads" / "digits_cnn.npz"
SEED = 0


def split() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(train images, train labels, test images, test labels); images NHWC in [0, 1]."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    images = (digits.images / 16.0)[..., None]
    x_train, x_test, y_train, y_test = train_test_split(
        images, digits.target, test_size=0.25, random_state=SEED, stratify=digits.target)
    return x_train, y_train, x_test, y_test


def _im2col(x: np.ndarray) -> np.ndarray:
    """3×3 'same' windows: [N, H, W, C] → [N·H·W, 9·C] (kh, kw, C order, as HWIO)."""
    n, h, w, c = x.shape
    padded = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    taps = [padded[:, i:i + h, j:j + w, :] for i in range(3) for j in range(3)]
    return np.stack(taps, axis=3).reshape(n * h * w, 9 * c)


def _col2im(cols: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    n, h, w, c = shape
    grad = np.zeros((n, h + 2, w + 2, c))
    cols = cols.reshape(n, h, w, 9, c)
    for t, (i, j) in enumerate((i, j) for i in range(3) for j in range(3)):
        grad[:, i:i + h, j:j + w, :] += cols[:, :, :, t, :]
    return grad[:, 1:-1, 1:-1, :]


def _pool(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n, h, w, c = x.shape
    blocks = x.reshape(n, h // 2, 2, w // 2, 2, c)
    out = blocks.max(axis=(2, 4))
    mask = blocks == out[:, :, None, :, None, :]
    return out, mask


def _unpool(grad: np.ndarray, mask: np.ndarray) -> np.ndarray:
    n, h, _, w, _, c = mask.shape
    spread = mask * grad[:, :, None, :, None, :]
    return spread.reshape(n, h * 2, w * 2, c)


def init(rng: np.random.Generator) -> dict[str, np.ndarray]:
    def he(*shape: int) -> np.ndarray:
        return rng.normal(0, np.sqrt(2 / np.prod(shape[:-1])), shape)
    return {"conv1.kernel": he(3, 3, 1, 16), "conv1.bias": np.zeros(16),
            "conv2.kernel": he(3, 3, 16, 32), "conv2.bias": np.zeros(32),
            "fc1.kernel": he(128, 64), "fc1.bias": np.zeros(64),
            "fc2.kernel": he(64, 10), "fc2.bias": np.zeros(10)}


def forward(p: dict, x: np.ndarray) -> tuple[np.ndarray, dict]:
    """Logits and what backpropagation needs."""
    n = x.shape[0]
    c1 = _im2col(x)
    a1 = np.maximum(c1 @ p["conv1.kernel"].reshape(9, 16) + p["conv1.bias"], 0)
    p1, m1 = _pool(a1.reshape(n, 8, 8, 16))
    c2 = _im2col(p1)
    a2 = np.maximum(c2 @ p["conv2.kernel"].reshape(144, 32) + p["conv2.bias"], 0)
    p2, m2 = _pool(a2.reshape(n, 4, 4, 32))
    f = p2.reshape(n, 128)
    h = np.maximum(f @ p["fc1.kernel"] + p["fc1.bias"], 0)
    logits = h @ p["fc2.kernel"] + p["fc2.bias"]
    return logits, {"c1": c1, "a1": a1, "m1": m1, "p1": p1, "c2": c2, "a2": a2, "m2": m2,
                    "f": f, "h": h}


def backward(p: dict, cache: dict, dlogits: np.ndarray) -> dict[str, np.ndarray]:
    n = dlogits.shape[0]
    g = {"fc2.kernel": cache["h"].T @ dlogits, "fc2.bias": dlogits.sum(0)}
    dh = (dlogits @ p["fc2.kernel"].T) * (cache["h"] > 0)
    g["fc1.kernel"], g["fc1.bias"] = cache["f"].T @ dh, dh.sum(0)
    dp2 = (dh @ p["fc1.kernel"].T).reshape(n, 2, 2, 32)
    da2 = _unpool(dp2, cache["m2"]).reshape(-1, 32) * (cache["a2"] > 0)
    g["conv2.kernel"] = (cache["c2"].T @ da2).reshape(3, 3, 16, 32)
    g["conv2.bias"] = da2.sum(0)
    dp1 = _col2im(da2 @ p["conv2.kernel"].reshape(144, 32).T, (n, 4, 4, 16))
    da1 = _unpool(dp1, cache["m1"]).reshape(-1, 16) * (cache["a1"] > 0)
    g["conv1.kernel"] = (cache["c1"].T @ da1).reshape(3, 3, 1, 16)
    g["conv1.bias"] = da1.sum(0)
    return g


def train(epochs: int = 40, batch: int = 32, lr: float = 2e-3) -> dict[str, np.ndarray]:
    """Adam on softmax cross-entropy; returns the parameters."""
    x, y, _, _ = split()
    rng = np.random.default_rng(SEED)
    p = init(rng)
    m = {k: np.zeros_like(v) for k, v in p.items()}
    v = {k: np.zeros_like(v) for k, v in p.items()}
    step = 0
    for _ in range(epochs):
        order = rng.permutation(len(x))
        for start in range(0, len(x), batch):
            idx = order[start:start + batch]
            logits, cache = forward(p, x[idx])
            probs = np.exp(logits - logits.max(1, keepdims=True))
            probs /= probs.sum(1, keepdims=True)
            probs[np.arange(len(idx)), y[idx]] -= 1
            grads = backward(p, cache, probs / len(idx))
            step += 1
            for k in p:
                m[k] = 0.9 * m[k] + 0.1 * grads[k]
                v[k] = 0.999 * v[k] + 0.001 * grads[k] ** 2
                p[k] -= lr * (m[k] / (1 - 0.9**step)) / (np.sqrt(v[k] / (1 - 0.999**step)) + 1e-8)
    return p


def main() -> None:
    params = train()
    _, _, xt, yt = split()
    accuracy = (forward(params, xt)[0].argmax(1) == yt).mean()
    np.savez(OUT, **{k: v.astype(np.float32) for k, v in params.items()})
    print(f"wrote {OUT}: held-out accuracy {accuracy:.4f} on {len(yt)} digits")


if __name__ == "__main__":
    main()
