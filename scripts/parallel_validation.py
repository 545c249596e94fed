"""Runs behind docs/validation_parallel.md: PaLM 540B on 64 TPU-v4-like chips against the
figures Pope et al. publish ("Efficiently Scaling Transformer Inference", MLSys 2023).

    PYTHONPATH=. python scripts/parallel_validation.py

PaLM 540B (Chowdhery et al. 2022, Table 1 and section 2): 118 layers, d_model 18,432,
48 heads of 256, multi-query attention (one K/V head), SwiGLU FFN of 4 × d_model (73,728),
256k vocabulary, shared input/output embeddings; given here in Llama's config.json keys.
The system: `tpu_v4_like_x8` with 64 chips on an 8×8 mesh (v4 slices are 4×4×4 tori; the
mesh is the nearest topology simaccel has) and int8 datatypes (the paper's int8 weights).
"""

from __future__ import annotations

import simaccel
from simaccel import llm
from simaccel.frontends.hf_config import parse_hf_config
from simaccel.hardware import vary
from simaccel.llm_parallel import Parallel, layout

PALM = {"model_type": "llama", "hidden_size": 18432, "intermediate_size": 73728,
        "num_hidden_layers": 118, "num_attention_heads": 48, "num_key_value_heads": 1,
        "head_dim": 256, "vocab_size": 256000, "max_position_embeddings": 2048,
        "hidden_act": "silu", "tie_word_embeddings": True}


def system():
    return vary(simaccel.load_hardware("tpu_v4_like_x8"), {
        "dtypes.input": "int8", "dtypes.weight": "int8", "dtypes.accumulator": "int32",
        "system.chips": 64, "system.topology": "mesh2d"})


def measure() -> dict[str, float]:
    """The simulated figures, in seconds and fractions."""
    spec, hw = parse_hf_config(PALM, "palm-540b", "palm-540b"), system()
    hz = hw.clock_mhz * 1e6
    out = {}
    # 1. decode latency per token, batch 1, 2048-token context (1984 + 64)
    run = llm.infer(spec, hw, Parallel.TENSOR, batch=1, prompt=1984, generate=65)
    out["decode_s"] = run.decode.mean.cycles / hz
    out["decode_comm_share"] = run.decode.mean.comm.cycles / run.decode.mean.cycles
    out["decode_hbm_bound_s"] = run.footprint.weights_read_bytes / (
        hw.dram.bandwidth_gbps * 1e9)
    # 2. chatbot: 64 new tokens against 1,920 cached, then a 64-token answer, batch 1
    lay = layout(spec, hw, Parallel.TENSOR, 1)
    prefill = llm.step(spec, hw, lay, tokens=64, context=1984)
    answer = llm.decode(spec, hw, lay, prompt=1984, generate=64)
    out["chatbot_s"] = (prefill.cycles + answer.mean.cycles * answer.steps) / hz
    # 3. prefill model FLOPs utilization at a large batch (64 prompts of 2048)
    big = llm.infer(spec, hw, Parallel.TENSOR, batch=64, prompt=2048, generate=1)
    flops = 2 * spec.params * 64 * 2048  # the paper's MFU counts 2 × params a token
    peak = 2 * hw.array.pes * hw.chip.cores * hw.system.chips * hz
    out["prefill_mfu"] = flops / (big.prefill.cycles / hz) / peak
    out["prefill_comm_share"] = big.prefill.comm.cycles / big.prefill.cycles
    return out


if __name__ == "__main__":
    for key, value in measure().items():
        print(f"{key:22s} {value:.4g}")
