"""More model families for tests/data/onnx_exports, exported like
scripts/export_onnx_fixtures.py (whose `export`, conventions and manifest this reuses): random
weights, reduced widths, small inputs, nothing downloaded, both exporters.

Families: HuggingFace encoders (DistilBERT, RoBERTa, ALBERT, ELECTRA, DeBERTa-v2), BART
(encoder and decoder), decoders (Mistral, Phi-3, Gemma, OPT, BLOOM with ALiBi, GPT-NeoX,
Falcon), CLIP's text and vision towers, Wav2Vec2, Segformer, MobileViT; torchvision VGG,
AlexNet, Inception-v3, ResNeXt, Wide ResNet, MNASNet; and small modules for the ops users
hit (transposed convs, resizing (bicubic too), a spatial transformer's GridSample, pixel
shuffle, group and instance norm, activations, einsum attention, rotary embeddings, a
KV-cache write with index_put, top-k and argmax heads).

    python scripts/export_onnx_fixtures_more.py [--out DIR] [NAME ...]

``--out DIR`` writes the files and a manifest there instead of the test corpus (to try
every family; only the files that once failed to import are kept in the corpus).
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
import transformers
from torch import nn
from torchvision import models

sys.path.insert(0, str(Path(__file__).resolve().parent))
import export_onnx_fixtures as base  # noqa: E402
from export_onnx_fixtures import _Hidden, _TinyResNet, image, tokens  # noqa: E402

# -- HuggingFace, from configs ------------------------------------------------------------------

SMALL = {"vocab_size": 64, "hidden_size": 32, "num_hidden_layers": 2,
         "num_attention_heads": 2, "intermediate_size": 64, "max_position_embeddings": 32}


def hf_distilbert() -> nn.Module:
    config = transformers.DistilBertConfig(vocab_size=64, dim=32, n_layers=2, n_heads=2,
                                           hidden_dim=64, max_position_embeddings=16)
    return _Hidden(transformers.DistilBertModel(config), "input_ids")


def hf_roberta() -> nn.Module:
    """Position ids from a cumulative sum of the non-padding tokens."""
    config = transformers.RobertaConfig(**SMALL, pad_token_id=1)
    return _Hidden(transformers.RobertaModel(config, add_pooling_layer=False), "input_ids")


def hf_albert() -> nn.Module:
    """Factorised embeddings (16 → 32) and one layer's weights shared by both."""
    config = transformers.AlbertConfig(**SMALL, embedding_size=16)
    return _Hidden(transformers.AlbertModel(config, add_pooling_layer=False), "input_ids")


def hf_electra() -> nn.Module:
    config = transformers.ElectraConfig(**SMALL, embedding_size=16)
    return _Hidden(transformers.ElectraModel(config), "input_ids")


def hf_deberta_v2() -> nn.Module:
    """Disentangled attention: content-to-position and position-to-content terms gathered
    by log-bucketed relative positions."""
    config = transformers.DebertaV2Config(**SMALL, relative_attention=True,
                                          pos_att_type=["p2c", "c2p"], position_buckets=8,
                                          max_relative_positions=16, norm_rel_ebd="layer_norm",
                                          share_att_key=True)
    return _Hidden(transformers.DebertaV2Model(config), "input_ids")


def _bart_config() -> transformers.BartConfig:
    return transformers.BartConfig(vocab_size=64, d_model=32, encoder_layers=1,
                                   decoder_layers=1, encoder_attention_heads=2,
                                   decoder_attention_heads=2, encoder_ffn_dim=64,
                                   decoder_ffn_dim=64, max_position_embeddings=16)


def hf_bart_encoder() -> nn.Module:
    return _Hidden(transformers.BartModel(_bart_config()).encoder, "input_ids")


def hf_bart() -> nn.Module:
    """Encoder and decoder (decoder input: the ids shifted right, cross-attention)."""
    return _Hidden(transformers.BartModel(_bart_config()), "input_ids")


def _decoder(config_cls, model_cls, **extra) -> nn.Module:
    config = config_cls(**{**SMALL, "num_attention_heads": 4, **extra})
    config._attn_implementation = "eager"  # the legacy exporter has no SDPA with GQA
    return _Hidden(model_cls(config), "input_ids")


def hf_mistral() -> nn.Module:
    """Grouped-query attention with a sliding window shorter than the sequence."""
    return _decoder(transformers.MistralConfig, transformers.MistralModel,
                    num_key_value_heads=2, sliding_window=4)


def hf_phi3() -> nn.Module:
    """Fused QKV and gate-up projections."""
    return _decoder(transformers.Phi3Config, transformers.Phi3Model, num_key_value_heads=2,
                    pad_token_id=0)


def hf_gemma() -> nn.Module:
    """Embeddings scaled by √hidden, RMSNorm by (1 + w), GELU-tanh gate."""
    return _decoder(transformers.GemmaConfig, transformers.GemmaModel, num_key_value_heads=2,
                    head_dim=8)


def hf_opt() -> nn.Module:
    """Learned positions offset by 2, from the attention mask's cumulative sum."""
    config = transformers.OPTConfig(vocab_size=64, hidden_size=32, num_hidden_layers=2,
                                    ffn_dim=64, num_attention_heads=2, word_embed_proj_dim=32,
                                    max_position_embeddings=32)
    return _Hidden(transformers.OPTModel(config), "input_ids")


def hf_bloom() -> nn.Module:
    """ALiBi: per-head linear biases on the attention scores, no position embeddings."""
    config = transformers.BloomConfig(vocab_size=64, hidden_size=32, n_layer=2, n_head=4)
    return _Hidden(transformers.BloomModel(config), "input_ids")


def hf_gpt_neox() -> nn.Module:
    """Rotary on a quarter of each head; parallel attention and MLP."""
    return _decoder(transformers.GPTNeoXConfig, transformers.GPTNeoXModel, rotary_pct=0.25)


def hf_falcon() -> nn.Module:
    """Multi-query attention, parallel attention and MLP."""
    config = transformers.FalconConfig(vocab_size=64, hidden_size=32, num_hidden_layers=2,
                                       num_attention_heads=4, multi_query=True,
                                       parallel_attn=True, bias=False)
    config._attn_implementation = "eager"
    return _Hidden(transformers.FalconModel(config), "input_ids")


class _Pooled(nn.Module):
    """A transformers model's pooled output (CLIP's text tower: the state at each row's
    highest token id, found with ArgMax)."""

    def __init__(self, model: nn.Module, key: str) -> None:
        super().__init__()
        self.model, self.key = model, key

    def forward(self, x):
        return self.model(**{self.key: x}).pooler_output


def hf_clip_text() -> nn.Module:
    config = transformers.CLIPTextConfig(vocab_size=64, hidden_size=32, intermediate_size=64,
                                         num_hidden_layers=2, num_attention_heads=2,
                                         max_position_embeddings=16, eos_token_id=2)
    return _Pooled(transformers.CLIPTextModel(config), "input_ids")


def hf_clip_vision() -> nn.Module:
    """Class token, pre-layernorm, quick GELU (x·σ(1.702x))."""
    config = transformers.CLIPVisionConfig(hidden_size=32, intermediate_size=64,
                                           num_hidden_layers=2, num_attention_heads=2,
                                           image_size=32, patch_size=8)
    return _Hidden(transformers.CLIPVisionModel(config), "pixel_values")


def hf_wav2vec2() -> nn.Module:
    """Conv1d feature extractor with group norm, a grouped positional conv, an encoder."""
    config = transformers.Wav2Vec2Config(
        vocab_size=32, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=64, conv_dim=(16, 16), conv_stride=(5, 2), conv_kernel=(10, 3),
        feat_extract_norm="group", num_conv_pos_embeddings=16,
        num_conv_pos_embedding_groups=4, do_stable_layer_norm=False)
    return _Hidden(transformers.Wav2Vec2Model(config), "input_values")


class _Logits(nn.Module):
    def __init__(self, model: nn.Module, key: str) -> None:
        super().__init__()
        self.model, self.key = model, key

    def forward(self, x):
        return self.model(**{self.key: x}).logits


def hf_segformer() -> nn.Module:
    """Overlapping patch embeddings, reduced-key attention, Mix-FFN (depthwise conv), an
    all-MLP decoder with bilinear upsampling."""
    config = transformers.SegformerConfig(
        num_channels=3, num_encoder_blocks=2, depths=[1, 1], sr_ratios=[2, 1],
        hidden_sizes=[8, 16], patch_sizes=[7, 3], strides=[4, 2], num_attention_heads=[1, 2],
        mlp_ratios=[2, 2], decoder_hidden_size=16, num_labels=3)
    return _Logits(transformers.SegformerForSemanticSegmentation(config), "pixel_values")


def hf_mobilevit() -> nn.Module:
    """Inverted residuals, then transformers over unfolded patches, folded back."""
    config = transformers.MobileViTConfig(
        image_size=32, patch_size=2, hidden_sizes=[16, 24, 32],
        neck_hidden_sizes=[8, 8, 16, 16, 24, 24, 48], num_attention_heads=2,
        mlp_ratio=2.0, expand_ratio=2.0, num_labels=10)
    return _Logits(transformers.MobileViTForImageClassification(config), "pixel_values")


# -- torchvision ----------------------------------------------------------------------------------

def vgg() -> nn.Module:
    cfg = [8, "M", 16, "M", 32, 32, "M"]
    net = models.VGG(models.vgg.make_layers(cfg, batch_norm=True), num_classes=10)
    net.classifier = nn.Sequential(nn.Linear(32 * 7 * 7, 32), nn.ReLU(True), nn.Dropout(),
                                   nn.Linear(32, 10))
    return net


class _TinyAlexNet(models.AlexNet):
    """torchvision's AlexNet (kernels 11, 5, 3, strides 4, pools 3/2) at 1/16 width."""

    def __init__(self) -> None:
        super().__init__(num_classes=10)
        self.features = nn.Sequential(
            nn.Conv2d(3, 4, 11, stride=4, padding=2), nn.ReLU(True), nn.MaxPool2d(3, 2),
            nn.Conv2d(4, 12, 5, padding=2), nn.ReLU(True), nn.MaxPool2d(3, 2),
            nn.Conv2d(12, 24, 3, padding=1), nn.ReLU(True),
            nn.Conv2d(24, 16, 3, padding=1), nn.ReLU(True),
            nn.Conv2d(16, 16, 3, padding=1), nn.ReLU(True), nn.MaxPool2d(3, 2))
        self.classifier = nn.Sequential(nn.Dropout(), nn.Linear(16 * 6 * 6, 32), nn.ReLU(True),
                                        nn.Dropout(), nn.Linear(32, 32), nn.ReLU(True),
                                        nn.Linear(32, 10))


class _InceptionConv(models.inception.BasicConv2d):
    """Inception-v3's conv at 1/16 of the channels (the RGB input stays 3)."""

    def __init__(self, in_channels: int, out_channels: int, **kwargs) -> None:
        super().__init__(in_channels if in_channels == 3 else in_channels // 16,
                         out_channels // 16, **kwargs)


def inception_v3() -> nn.Module:
    from functools import partial

    inc = models.inception
    blocks = [_InceptionConv] + [partial(b, conv_block=_InceptionConv) for b in (
        inc.InceptionA, inc.InceptionB, inc.InceptionC, inc.InceptionD, inc.InceptionE)] + [
        inc.InceptionAux]
    net = models.Inception3(num_classes=10, aux_logits=False, transform_input=False,
                            inception_blocks=blocks, init_weights=True)
    net.fc = nn.Linear(2048 // 16, 10)
    return net


def resnext() -> nn.Module:
    net = _TinyResNet(models.resnet.Bottleneck, [1, 1, 1, 1], num_classes=10, groups=4,
                      width_per_group=32)
    net.fc = nn.Linear(32 * 4, 10)
    return net


def wide_resnet() -> nn.Module:
    net = _TinyResNet(models.resnet.Bottleneck, [1, 1, 1, 1], num_classes=10,
                      width_per_group=128)
    net.fc = nn.Linear(32 * 4, 10)
    return net


def mnasnet() -> nn.Module:
    net = models.MNASNet(alpha=0.25, num_classes=10)
    net.layers[14] = nn.Conv2d(80, 32, 1, bias=False)  # 1280 → 32 channels
    net.layers[15] = nn.BatchNorm2d(32)
    net.classifier[1] = nn.Linear(32, 10)
    return net


# -- small modules for the ops users hit ----------------------------------------------------------

class Decoder(nn.Module):
    """A UNet/vocoder-style decoder: ConvTranspose2d with output padding and groups,
    ConvTranspose1d, nearest and bilinear (align_corners) upsampling, PixelShuffle."""

    def __init__(self) -> None:
        super().__init__()
        self.up = nn.ConvTranspose2d(8, 8, 3, stride=2, padding=1, output_padding=1)
        self.up_grouped = nn.ConvTranspose2d(8, 8, 4, stride=2, padding=1, groups=2)
        self.conv = nn.Conv2d(8, 8, 3, padding=1)
        self.shuffle = nn.PixelShuffle(2)
        self.up1d = nn.ConvTranspose1d(8, 4, 4, stride=2, padding=1)

    def forward(self, x):
        y = torch.relu(self.up(x))
        y = nn.functional.interpolate(y, scale_factor=2, mode="nearest")
        y = self.up_grouped(self.conv(y))
        y = nn.functional.interpolate(y, size=(40, 40), mode="bilinear", align_corners=True)
        y = self.shuffle(y)  # [1, 2, 80, 80]
        z = self.up1d(x.flatten(2, 3)[:, :, :16])
        return y, z


class Bicubic(nn.Module):
    """Bicubic upsampling (as ViTs resize position embeddings): by a scale factor, and to a
    size with align_corners."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)

    def forward(self, x):
        y = nn.functional.interpolate(self.conv(x), scale_factor=2, mode="bicubic")
        return nn.functional.interpolate(y, size=(11, 13), mode="bicubic", align_corners=True)


class SpatialTransformer(nn.Module):
    """A spatial transformer: a small network predicts an affine transform per image, the
    sampling grid is its product with the output pixels' coordinates, GridSample
    resamples the image (bilinear, border padding)."""

    def __init__(self, size: int = 16) -> None:
        super().__init__()
        self.loc = nn.Sequential(nn.Conv2d(3, 4, 3, stride=2), nn.ReLU(), nn.Flatten(),
                                 nn.Linear(4 * 7 * 7, 6))
        ys, xs = torch.meshgrid(torch.linspace(-1, 1, size), torch.linspace(-1, 1, size),
                                indexing="ij")
        self.register_buffer("base", torch.stack([xs, ys, torch.ones_like(xs)], -1),
                             persistent=False)  # [H, W, 3]

    def forward(self, x):
        theta = self.loc(x).reshape(-1, 2, 3)
        grid = torch.einsum("hwk,nck->nhwc", self.base, theta)
        return nn.functional.grid_sample(x, grid, padding_mode="border", align_corners=True)


class NormsAndActivations(nn.Module):
    """GroupNorm, InstanceNorm (affine), LeakyReLU, PReLU (per channel), Hardswish, SiLU,
    Mish, ELU, Softplus, GELU (tanh)."""

    def __init__(self) -> None:
        super().__init__()
        self.c1 = nn.Conv2d(3, 8, 3, padding=1)
        self.gn = nn.GroupNorm(2, 8)
        self.c2 = nn.Conv2d(8, 8, 3, padding=1)
        self.inorm = nn.InstanceNorm2d(8, affine=True)
        self.prelu = nn.PReLU(8)
        self.c3 = nn.Conv2d(8, 8, 1)

    def forward(self, x):
        y = nn.functional.leaky_relu(self.gn(self.c1(x)), 0.2)
        y = self.prelu(self.inorm(self.c2(y)))
        y = nn.functional.hardswish(y) + nn.functional.silu(y)
        y = nn.functional.mish(self.c3(y)) + nn.functional.elu(y)
        return nn.functional.gelu(nn.functional.softplus(y), approximate="tanh")


class EinsumAttention(nn.Module):
    """Attention written with einsum (batch, query, head, dim order)."""

    def __init__(self, dim: int = 32, heads: int = 4) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(dim, dim)

    def forward(self, x):
        b, t, d = x.shape
        q, k, v = (z.reshape(b, t, self.heads, d // self.heads)
                   for z in self.qkv(x).chunk(3, dim=-1))
        scores = torch.einsum("bqhd,bkhd->bhqk", q, k) / (d // self.heads) ** 0.5
        y = torch.einsum("bhqk,bkhd->bqhd", scores.softmax(-1), v)
        return self.out(y.reshape(b, t, d))


class Rope(nn.Module):
    """Rotary position embeddings computed in the graph (arange, outer product, cos/sin,
    rotate-half), then causal attention."""

    def __init__(self, dim: int = 32, heads: int = 2) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        inv = 1.0 / (10000 ** (torch.arange(0, dim // heads, 2).float() / (dim // heads)))
        self.register_buffer("inv_freq", inv, persistent=False)

    def forward(self, x):
        b, t, d = x.shape
        h = d // self.heads
        q, k, v = (z.reshape(b, t, self.heads, h).transpose(1, 2)
                   for z in self.qkv(x).chunk(3, dim=-1))
        angles = torch.outer(torch.arange(t, dtype=torch.float32), self.inv_freq)
        cos, sin = torch.cat([angles, angles], -1).cos(), torch.cat([angles, angles], -1).sin()

        def rotate(z):
            z1, z2 = z[..., : h // 2], z[..., h // 2:]
            return z * cos + torch.cat([-z2, z1], -1) * sin

        y = nn.functional.scaled_dot_product_attention(rotate(q), rotate(k), v, is_causal=True)
        return y.transpose(1, 2).reshape(b, t, d)


class KVCacheWrite(nn.Module):
    """A static KV cache written in place at a position given as input (index_put, as
    static-cache decoders do), then attention over the whole cache."""

    def __init__(self, dim: int = 32, heads: int = 2) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)

    def forward(self, x, cache_k, cache_v, pos):
        b, t, d = x.shape
        q, k, v = (z.reshape(b, t, self.heads, d // self.heads).transpose(1, 2)
                   for z in self.qkv(x).chunk(3, dim=-1))
        cache_k = cache_k.clone()
        cache_v = cache_v.clone()
        cache_k[:, :, pos] = k
        cache_v.index_copy_(2, pos, v)
        y = nn.functional.scaled_dot_product_attention(q, cache_k, cache_v)
        return y.transpose(1, 2).reshape(b, t, d), cache_k, cache_v


def kv_write_inputs() -> tuple[torch.Tensor, ...]:
    return (torch.randn(1, 1, 32), torch.randn(1, 2, 8, 16), torch.randn(1, 2, 8, 16),
            torch.tensor([5]))


class TopKHead(nn.Module):
    """A classifier head returning the top-3 logits and their classes, and the argmax."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(16, 10)

    def forward(self, x):
        logits = self.fc(x)
        values, indices = torch.topk(logits, 3, dim=-1)
        return values, indices, logits.argmax(-1)


MORE = {
    "hf_distilbert": (hf_distilbert, tokens), "hf_roberta": (hf_roberta, tokens),
    "hf_albert": (hf_albert, tokens), "hf_electra": (hf_electra, tokens),
    "hf_deberta_v2": (hf_deberta_v2, tokens), "hf_bart_encoder": (hf_bart_encoder, tokens),
    "hf_bart": (hf_bart, tokens), "hf_mistral": (hf_mistral, tokens),
    "hf_phi3": (hf_phi3, tokens), "hf_gemma": (hf_gemma, tokens), "hf_opt": (hf_opt, tokens),
    "hf_bloom": (hf_bloom, tokens), "hf_gpt_neox": (hf_gpt_neox, tokens),
    "hf_falcon": (hf_falcon, tokens), "hf_clip_text": (hf_clip_text, tokens),
    "hf_clip_vision": (hf_clip_vision, image),
    "hf_wav2vec2": (hf_wav2vec2, lambda: torch.randn(1, 400)),
    "hf_segformer": (hf_segformer, image), "hf_mobilevit": (hf_mobilevit, image),
    "vgg_tiny": (vgg, lambda: image(56)), "alexnet_tiny": (_TinyAlexNet, lambda: image(224)),
    "inception_v3_tiny": (inception_v3, lambda: image(75)),
    "resnext_tiny": (resnext, image), "wide_resnet_tiny": (wide_resnet, image),
    "mnasnet_tiny": (mnasnet, image),
    "decoder_ops": (Decoder, lambda: torch.randn(1, 8, 10, 10)),
    "bicubic": (Bicubic, lambda: image(8)),
    "spatial_transformer": (SpatialTransformer, lambda: image(16)),
    "norms_activations": (NormsAndActivations, lambda: image(16)),
    "einsum_attention": (EinsumAttention, lambda: torch.randn(1, 8, 32)),
    "rope_attention": (Rope, lambda: torch.randn(1, 8, 32)),
    "kv_cache_write": (KVCacheWrite, kv_write_inputs),
    "topk_head": (TopKHead, lambda: torch.randn(2, 16)),
}


def main(argv: list[str]) -> None:
    if argv[:1] == ["--out"]:
        base.OUT = Path(argv[1])
        argv = argv[2:]
    base.MODELS.update(MORE)
    base.main(argv or list(MORE))


if __name__ == "__main__":
    main(sys.argv[1:])
