"""Shipped workloads: MAC counts pinned to published figures and to hand products."""

from __future__ import annotations

from pathlib import Path

import pytest

import simaccel
from simaccel.graph import build_graph
from simaccel.lowering import lower

WORKLOADS = Path(__file__).resolve().parent.parent / "workloads"


def _macs(name: str) -> int:
    return sum(k.macs for k in lower(build_graph(simaccel.load_model(WORKLOADS / name))))


@pytest.mark.parametrize(("name", "published", "tolerance"), [
    ("resnet50.json", 4.1e9, 0.01),       # torchvision: 4.09 GMACs (He et al.: 3.8 G)
    ("resnet18.json", 1.8e9, 0.01),       # torchvision: 1.81 GMACs
    ("mobilenet_v2.json", 0.300e9, 0.01),  # Sandler et al. 2018: 300 M multiply-adds
])
def test_published_mac_counts(name: str, published: float, tolerance: float) -> None:
    assert _macs(name) == pytest.approx(published, rel=tolerance)


@pytest.mark.parametrize(("name", "macs"), [
    ("resnet50.json", 4_089_184_256),
    ("resnet18.json", 1_814_073_344),
    ("mobilenet_v2.json", 300_774_272),
    # MNIST CNN: 26·26·9·32 + 11·11·288·64 + 1600·64 + 64·10
    ("mnist_cnn.json", 194_688 + 2_230_272 + 102_400 + 640),
    # BERT-base layer, L=128, d=768, 12 heads: QKV+out 4·L·d², scores and context
    # 2·12·L²·64, FFN 2·L·d·3072
    ("bert_base_encoder.json", 4 * 128 * 768**2 + 2 * 12 * 128**2 * 64 + 2 * 128 * 768 * 3072),
    ("gemm_square_1024.json", 1024**3),
    ("gemm_skinny_1x4096x4096.json", 4096 * 4096),
    ("gemm_tall_16384x64x64.json", 16384 * 64 * 64),
    ("matmul_batched_8x256x256x256.json", 8 * 256**3),
    # TPU paper workloads: MLP0 5 × 200·2048², MLP1 4 × 168·1120², CNN0 8 boards of 19×19
    # outputs × (5·5·48·256 + 13 × 3·3·256·256 + 256·256 + 256·1)
    ("tpu_mlp0.json", 5 * 200 * 2048**2),
    ("tpu_mlp1.json", 4 * 168 * 1120**2),
    ("tpu_cnn0.json", 8 * 19 * 19 * (1200 * 256 + 13 * 2304 * 256 + 256 * 256 + 256)),
])
def test_exact_mac_counts(name: str, macs: int) -> None:
    assert _macs(name) == macs


def test_generator_reproduces_the_shipped_files(tmp_path: Path) -> None:
    """workloads/generate.py is the source of the JSON files; they must not drift apart."""
    import shutil
    import subprocess
    import sys

    shutil.copy(WORKLOADS / "generate.py", tmp_path / "generate.py")
    subprocess.run([sys.executable, str(tmp_path / "generate.py")], check=True, cwd=tmp_path)
    for made in tmp_path.glob("*.json"):
        assert made.read_text() == (WORKLOADS / made.name).read_text(), made.name
