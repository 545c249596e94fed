"""Export the ONNX fixtures of tests/test_onnx_exports.py with the real exporters.

Run by hand (not in CI) where torch, torchvision, transformers, onnxscript and onnxruntime are
installed; nothing is downloaded: every model is built from its constructor or config with
random weights, at reduced width and with a small input. Each model is exported twice, by
``torch.onnx.export(dynamo=True)`` (today's default) and ``dynamo=False`` (the TorchScript
exporter), into tests/data/onnx_exports/:

- ``NAME_EXPORTER.onnx`` — the model (the dynamo exporter's weights in
  ``NAME_dynamo.onnx.data`` beside it; per-node stack traces dropped);
- ``NAME_EXPORTER.npz`` — its inputs (``in:<onnx name>``) and onnxruntime's outputs
  (``out:<onnx name>``);
- ``manifest.json`` — per file: the MAC count torch measures (``torch.utils.flop_counter``,
  FLOPs / 2; for RNNs the analytic sequence × batch × gates·hidden × (input + hidden)), the
  exporter, and the versions used.

    python scripts/export_onnx_fixtures.py [NAME ...]
"""

from __future__ import annotations

import importlib
import json
import sys
import warnings
from functools import partial
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch
import torchvision
import transformers
from torch import nn
from torch.utils.flop_counter import FlopCounterMode
from torchvision import models

_googlenet = importlib.import_module("torchvision.models.googlenet")
_squeezenet = importlib.import_module("torchvision.models.squeezenet")
OUT = Path(__file__).resolve().parent.parent / "tests" / "data" / "onnx_exports"
torch.manual_seed(0)


# -- small torchvision CNNs -----------------------------------------------------------------

class _TinyResNet(models.ResNet):
    """torchvision's ResNet with every stage 1/16 as wide."""

    def _make_layer(self, block, planes, blocks, stride=1, dilate=False):
        return super()._make_layer(block, max(planes // 16, 4), blocks, stride, dilate)


def resnet() -> nn.Module:
    net = _TinyResNet(models.resnet.BasicBlock, [1, 1, 1, 1], num_classes=10)
    net.fc = nn.Linear(32, 10)
    return net


def resnet_bottleneck() -> nn.Module:
    net = _TinyResNet(models.resnet.Bottleneck, [1, 1, 1, 1], num_classes=10)
    net.fc = nn.Linear(32 * 4, 10)
    return net


def mobilenet_v2() -> nn.Module:
    from torchvision.ops.misc import Conv2dNormActivation

    setting = [[1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 1, 2], [6, 64, 1, 2], [6, 96, 1, 1],
               [6, 160, 1, 2], [6, 320, 1, 1]]
    net = models.mobilenet_v2(weights=None, width_mult=0.25, num_classes=10,
                              inverted_residual_setting=setting)
    net.features[-1] = Conv2dNormActivation(80, 32, kernel_size=1, activation_layer=nn.ReLU6)
    net.classifier[1] = nn.Linear(32, 10)
    return net


def mobilenet_v3() -> nn.Module:
    from torchvision.models.mobilenetv3 import MobileNetV3, _mobilenet_v3_conf

    setting, _ = _mobilenet_v3_conf("mobilenet_v3_small", width_mult=0.1)
    return MobileNetV3(setting, last_channel=32, num_classes=10)


def efficientnet() -> nn.Module:
    from torchvision.models.efficientnet import EfficientNet, _efficientnet_conf

    setting, last = _efficientnet_conf("efficientnet_b0", width_mult=0.1, depth_mult=0.25)
    return EfficientNet(setting, dropout=0.2, last_channel=32, num_classes=10)


def convnext() -> nn.Module:
    from torchvision.models.convnext import CNBlockConfig, ConvNeXt

    blocks = [CNBlockConfig(8, 16, 1), CNBlockConfig(16, 32, 1), CNBlockConfig(32, None, 1)]
    return ConvNeXt(blocks, stochastic_depth_prob=0.0, num_classes=10)


def regnet() -> nn.Module:
    from torchvision.models.regnet import BlockParams, RegNet

    params = BlockParams.from_init_params(depth=4, w_0=8, w_a=8.0, w_m=2.0, group_width=8,
                                          se_ratio=0.25)
    return RegNet(params, num_classes=10, stem_width=8)


def densenet() -> nn.Module:
    return models.DenseNet(growth_rate=8, block_config=(2, 2), num_init_features=16,
                           bn_size=2, num_classes=10)


class _TinyConv(_googlenet.BasicConv2d):
    """GoogLeNet's conv at 1/16 of the channels (the RGB input stays 3)."""

    def __init__(self, in_channels: int, out_channels: int, **kwargs) -> None:
        super().__init__(in_channels if in_channels == 3 else in_channels // 16,
                         max(out_channels // 16, 1), **kwargs)


def googlenet() -> nn.Module:
    net = models.GoogLeNet(num_classes=10, aux_logits=False, init_weights=True,
                           transform_input=False,
                           blocks=[_TinyConv, partial(_googlenet.Inception, conv_block=_TinyConv),
                                   _googlenet.InceptionAux])
    net.fc = nn.Linear(64, 10)
    return net


def squeezenet() -> nn.Module:
    sq = _squeezenet
    original = sq.Fire

    def tiny_fire(inplanes: int, squeeze: int, e1: int, e3: int):
        return original(inplanes // 8, max(squeeze // 8, 1), e1 // 8, e3 // 8)

    sq.Fire = tiny_fire
    try:
        net = sq.SqueezeNet("1_1", num_classes=10)
    finally:
        sq.Fire = original
    net.features[0] = nn.Conv2d(3, 8, kernel_size=3, stride=2)
    net.classifier[1] = nn.Conv2d(64, 10, kernel_size=1)
    return net


def shufflenet() -> nn.Module:
    return models.ShuffleNetV2([1, 1, 1], [8, 16, 32, 64, 128], num_classes=10)


def vit() -> nn.Module:
    return models.VisionTransformer(image_size=32, patch_size=8, num_layers=2, num_heads=2,
                                    hidden_dim=32, mlp_dim=64, num_classes=10)


def swin() -> nn.Module:
    return models.SwinTransformer(patch_size=[4, 4], embed_dim=16, depths=[1, 1],
                                  num_heads=[1, 2], window_size=[4, 4],
                                  stochastic_depth_prob=0.0, num_classes=10)


class TinyUNet(nn.Module):
    """An encoder-decoder: strided convs down, a transposed conv and a bilinear upsampling
    back up, a skip connection concatenated."""

    def __init__(self) -> None:
        super().__init__()
        self.down1 = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU())
        self.down2 = nn.Sequential(nn.Conv2d(8, 16, 3, stride=2, padding=1), nn.ReLU())
        self.up = nn.ConvTranspose2d(16, 8, 4, stride=2, padding=1)
        self.resize = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False)
        self.head = nn.Conv2d(16, 2, 1)

    def forward(self, x):
        skip = self.down1(x)
        y = torch.relu(self.up(self.down2(skip)))
        y = torch.cat([y, skip], dim=1)
        return self.resize(self.head(y))


# -- HuggingFace transformers, from configs ---------------------------------------------------

class _Hidden(nn.Module):
    """A transformers model returning its last hidden state only (no cache)."""

    def __init__(self, model: nn.Module, key: str) -> None:
        super().__init__()
        self.model, self.key = model, key

    def forward(self, x):
        kwargs = {self.key: x}
        if self.key == "input_ids" and "use_cache" in self.model.forward.__code__.co_varnames:
            kwargs["use_cache"] = False
        return self.model(**kwargs).last_hidden_state


class _Masked(nn.Module):
    """A transformers model called with token ids and an attention mask (padding)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, ids, mask):
        return self.model(input_ids=ids, attention_mask=mask, use_cache=False).last_hidden_state


def hf_gpt2_masked() -> nn.Module:
    return _Masked(hf_gpt2().model)


def tokens_and_mask() -> tuple[torch.Tensor, torch.Tensor]:
    mask = torch.ones(1, 8, dtype=torch.int64)
    mask[0, :2] = 0  # left padding
    return tokens(), mask


class KVCacheStep(nn.Module):
    """One decoder step with a KV cache: the new token's key and value appended to the
    cached ones (inputs), attention over all of them, the new cache returned."""

    def __init__(self, dim: int = 32, heads: int = 2) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(dim, dim)

    def forward(self, x, past_k, past_v):
        b, t, d = x.shape
        q, k, v = self.qkv(x).split(d, dim=-1)
        shape = (b, t, self.heads, d // self.heads)
        q, k, v = (z.reshape(shape).transpose(1, 2) for z in (q, k, v))
        k = torch.cat([past_k, k], dim=2)
        v = torch.cat([past_v, v], dim=2)
        y = nn.functional.scaled_dot_product_attention(q, k, v)
        return self.out(y.transpose(1, 2).reshape(b, t, d)), k, v


def kv_inputs() -> tuple[torch.Tensor, ...]:
    return torch.randn(1, 1, 32), torch.randn(1, 2, 7, 16), torch.randn(1, 2, 7, 16)


def hf_gpt2() -> nn.Module:
    config = transformers.GPT2Config(n_layer=2, n_embd=32, n_head=2, vocab_size=64,
                                     n_positions=16)
    return _Hidden(transformers.GPT2Model(config), "input_ids")


def hf_bert() -> nn.Module:
    config = transformers.BertConfig(hidden_size=32, num_hidden_layers=2,
                                     num_attention_heads=2, intermediate_size=64,
                                     vocab_size=64, max_position_embeddings=16)
    return _Hidden(transformers.BertModel(config, add_pooling_layer=False), "input_ids")


def hf_llama() -> nn.Module:
    config = transformers.LlamaConfig(hidden_size=32, intermediate_size=64,
                                      num_hidden_layers=2, num_attention_heads=4,
                                      num_key_value_heads=2, vocab_size=64,
                                      max_position_embeddings=16)
    config._attn_implementation = "eager"  # the legacy exporter has no SDPA with GQA
    return _Hidden(transformers.LlamaModel(config), "input_ids")


def hf_vit() -> nn.Module:
    config = transformers.ViTConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                    intermediate_size=64, image_size=32, patch_size=8)
    return _Hidden(transformers.ViTModel(config, add_pooling_layer=False), "pixel_values")


def hf_t5_encoder() -> nn.Module:
    """T5's encoder: relative position buckets, RMS-style layer norm, no biases."""
    config = transformers.T5Config(vocab_size=64, d_model=32, d_kv=8, d_ff=64, num_layers=2,
                                   num_heads=4)
    return _Hidden(transformers.T5EncoderModel(config), "input_ids")


def hf_qwen2() -> nn.Module:
    config = transformers.Qwen2Config(vocab_size=64, hidden_size=32, intermediate_size=64,
                                      num_hidden_layers=2, num_attention_heads=4,
                                      num_key_value_heads=2, max_position_embeddings=16)
    return _Hidden(transformers.Qwen2Model(config), "input_ids")


def hf_whisper_encoder() -> nn.Module:
    """Whisper's audio encoder: two Conv1d over mel frames, GELU, attention."""
    config = transformers.WhisperConfig(
        vocab_size=64, num_mel_bins=8, d_model=32, encoder_layers=2, decoder_layers=1,
        encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=64,
        decoder_ffn_dim=64, max_source_positions=16, max_target_positions=16, pad_token_id=1,
        bos_token_id=2, eos_token_id=3, decoder_start_token_id=2)
    return _Hidden(transformers.WhisperModel(config).encoder, "input_features")


# -- an RNN ---------------------------------------------------------------------------------

class LstmTagger(nn.Module):
    """An LSTM over a sequence, then a linear layer per step."""

    def __init__(self, cell: type = nn.LSTM, bidirectional: bool = False) -> None:
        super().__init__()
        self.rnn = cell(input_size=8, hidden_size=16, batch_first=True,
                        bidirectional=bidirectional)
        self.fc = nn.Linear(16 * (2 if bidirectional else 1), 4)

    def forward(self, x):
        y, _ = self.rnn(x)
        return self.fc(y)


def rnn_macs(net: LstmTagger, x: torch.Tensor) -> int:
    """Analytic: sequence × batch × gates·hidden × (input + hidden) per direction, plus the
    linear layer."""
    batch, steps, features = x.shape
    rnn = net.rnn
    gates = {nn.LSTM: 4, nn.GRU: 3, nn.RNN: 1}[type(rnn)]
    dirs = 2 if rnn.bidirectional else 1
    h = rnn.hidden_size
    return dirs * steps * batch * gates * h * (features + h) + \
        steps * batch * net.fc.in_features * net.fc.out_features


def image(size: int = 32) -> torch.Tensor:
    return torch.randn(1, 3, size, size)


def tokens() -> torch.Tensor:
    return torch.randint(0, 64, (1, 8))


MODELS = {
    "resnet18_tiny": (resnet, image), "resnet50_tiny": (resnet_bottleneck, image),
    "mobilenet_v2_tiny": (mobilenet_v2, image), "mobilenet_v3_tiny": (mobilenet_v3, image),
    "efficientnet_tiny": (efficientnet, image), "convnext_tiny": (convnext, image),
    "regnet_tiny": (regnet, image), "densenet_tiny": (densenet, image),
    "googlenet_tiny": (googlenet, image), "squeezenet_tiny": (squeezenet, image),
    "shufflenet_tiny": (shufflenet, image), "vit_tiny": (vit, image),
    "swin_tiny": (swin, image), "unet_tiny": (TinyUNet, image),
    "hf_gpt2": (hf_gpt2, tokens), "hf_bert": (hf_bert, tokens), "hf_llama": (hf_llama, tokens),
    "hf_vit": (hf_vit, image), "hf_gpt2_masked": (hf_gpt2_masked, tokens_and_mask),
    "kv_cache_step": (KVCacheStep, kv_inputs), "hf_t5_encoder": (hf_t5_encoder, tokens),
    "hf_qwen2": (hf_qwen2, tokens),
    "hf_whisper_encoder": (hf_whisper_encoder, lambda: torch.randn(1, 8, 32)),
    "lstm": (LstmTagger, lambda: torch.randn(1, 6, 8)),
    "gru_bidirectional": (lambda: LstmTagger(nn.GRU, bidirectional=True),
                          lambda: torch.randn(1, 6, 8)),
}


def torch_macs(net: nn.Module, x: torch.Tensor, *more: torch.Tensor) -> int:
    """FLOPs / 2 by torch's counter, attention through the math kernel (whose matmuls the
    counter sees; the fused CPU kernels it does not count)."""
    from torch.nn.attention import SDPBackend, sdpa_kernel

    if isinstance(net, LstmTagger):
        return rnn_macs(net, x)
    with sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter:
        net(x, *more)
    return counter.get_total_flops() // 2


def randomize(net: nn.Module) -> nn.Module:
    """Random values where an initializer left constants (zero heads, unit norms, empty
    running statistics), so that every parameter matters to the output."""
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in net.parameters():
            if p.numel() > 1 and float(p.std()) == 0.0 or p.numel() == 1:
                p.copy_(p + 0.1 * torch.randn(p.shape, generator=gen))
        for m in net.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.running_mean is not None:
                m.running_mean.copy_(0.1 * torch.randn(m.running_mean.shape, generator=gen))
                m.running_var.copy_(0.5 + torch.rand(m.running_var.shape, generator=gen))
    return net


def _strip_metadata(path: Path) -> None:
    """Drop the per-node stack traces and doc strings the exporters record (three quarters of
    a small file); the graph, its weights and its external data stay as written."""
    model = onnx.load(str(path), load_external_data=False)
    for node in model.graph.node:
        del node.metadata_props[:]
        node.doc_string = ""
    onnx.save(model, str(path))


def export(name: str, dynamo: bool) -> dict:
    build, make_input = MODELS[name]
    torch.manual_seed(sum(map(ord, name)))
    net = randomize(build().eval())
    args = make_input()
    args = args if isinstance(args, tuple) else (args,)
    exporter = "dynamo" if dynamo else "legacy"
    path = OUT / f"{name}_{exporter}.onnx"
    with warnings.catch_warnings():  # with grad on: no fused attention fast path
        warnings.simplefilter("ignore")
        if dynamo:
            torch.onnx.export(net, args, str(path), dynamo=True, verbose=False)
        else:
            torch.onnx.export(net, args, str(path), dynamo=False, opset_version=17)
    macs = torch_macs(net, *args)  # with grad on: MultiheadAttention's fast path is not counted
    _strip_metadata(path)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feeds = {i.name: a.numpy() for i, a in zip(session.get_inputs(), args, strict=True)}
    outs = session.run(None, feeds)
    arrays = {f"in:{k}": v for k, v in feeds.items()}
    arrays.update({f"out:{o.name}": v for o, v in zip(session.get_outputs(), outs,
                                                       strict=True)})
    np.savez_compressed(path.with_suffix(".npz"), **arrays)
    with torch.no_grad():
        reference = net(*args)
    reference = (reference[0] if isinstance(reference, tuple) else reference).numpy()
    return {"model": name, "exporter": exporter, "macs": int(macs),
            "source_vs_onnxruntime": float(np.abs(reference - outs[0]).max()),
            "bytes": path.stat().st_size}


def main(names: list[str]) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    manifest_path = OUT / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    manifest["versions"] = {"torch": torch.__version__, "torchvision": torchvision.__version__,
                            "transformers": transformers.__version__,
                            "onnxruntime": ort.__version__}
    files = manifest.setdefault("files", {})
    for name in names or list(MODELS):
        for dynamo in (True, False):
            key = f"{name}_{'dynamo' if dynamo else 'legacy'}"
            try:
                files[key] = export(name, dynamo)
                print(f"{key}: {files[key]['macs']:,} MACs, {files[key]['bytes']:,} bytes",
                      flush=True)
            except Exception as exc:  # noqa: BLE001 - one model's failure is reported
                files.pop(key, None)
                print(f"{key}: export failed: {type(exc).__name__}: {str(exc)[:200]}",
                      flush=True)
            manifest_path.write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
