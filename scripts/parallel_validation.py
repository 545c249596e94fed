"""Runs behind docs/validation_parallel.md: PaLM 540B on 64 TPU-v4-like chips against the
figures Pope et al. publish ("Efficiently Scaling Transformer Inference", MLSys 2023), and
one GPT-3 175B layer on 4 A100-like chips against the A100 measurements LLMCompass
publishes (Zhang et al., ISCA 2024, Fig. 5i and 5k; the measured per-operator latencies are
in its artifact, github.com/PrincetonUniversity/LLMCompass,
ae/figure5/ijkl/real_hardware/transformer_A100.csv and transformerAR_A100.csv).

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
from simaccel.collectives import Collective
from simaccel.frontends.hf_config import load_llm, parse_hf_config
from simaccel.hardware import Hardware, vary
from simaccel.llm_layers import layer_model
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


#: LLMCompass's measured latencies (seconds) of one GPT-3 175B layer on one of 4 A100s
#: (tensor parallel, fp16, batch 8), in the order of its plot_transformer.py: Q_K_V,
#: Q_mul_K, A_mul_V, Wo_proj, W1_proj, W2_proj, Softmax, LayerNorm_MHA, LayerNorm_FFN,
#: GeLU, AllReduce_MHA, AllReduce_FFN. Prefill: 2048 tokens a sequence; decode: one token
#: a sequence against a KV cache of 2048 + 1024 = 3072 (its test_transformer.py).
A100_PREFILL_S = (0.013721823692321777, 0.0018811225891113281, 0.001183152198791504,
                  0.0045403242111206055, 0.017464280128479004, 0.017485618591308594,
                  0.00280153751373291, 0.0006816387176513672, 0.0006816387176513672,
                  0.0005242824554443359, 0.0028909, 0.0028909)
A100_DECODE_S = (0.0002124309539794922, 0.00010609626770019531, 0.0001386404037475586,
                 6.890296936035156e-05, 0.00018596649169921875, 0.00018608570098876953,
                 1.6689300537109375e-05, 4.8041343688964844e-05, 4.8041343688964844e-05,
                 4.792213439941406e-05, 26.04e-06, 26.04e-06)


def a100_system() -> Hardware:
    """4 A100-like chips. NVIDIA's A100 80 GB SXM datasheet: 312 TFLOPS fp16 (108 SMs × 4
    tensor cores × 256 FMAs a cycle at 1,410 MHz), 2,039 GB/s HBM2e, 80 GB, 12 NVLink3
    links of 25 GB/s a direction (300 GB/s a GPU a direction), 6,912 FP32 lanes. simaccel
    has systolic arrays, not SMs: two cores of 235 × 235 (110,450 MACs a cycle, 311.5
    TFLOPS), the TPU-v4-like chip's memories; NVLink as `switch` (each chip one 300 GB/s
    link each way) with LLMCompass's NVLink latency of 8.92 µs (its configs/GA100.json)."""
    return vary(simaccel.load_hardware("tpu_v4_like_x8"), {
        "clock_mhz": 1410, "array.rows": 235, "array.cols": 235, "chip.cores": 2,
        "dtypes.input": "fp16", "dtypes.weight": "fp16", "dtypes.accumulator": "fp32",
        "dram.bandwidth_gbps": 2039, "dram.capacity_gib": 80, "vector.lanes": 3456,
        "system.chips": 4, "system.topology": "switch", "system.link_gbps": 300,
        "system.link_latency_ns": 8920})


def _array_time(layers: list[dict], pes: int) -> dict[str, int]:
    """The GEMMs' array cycles split: useful MACs at every PE, PEs a fold leaves idle
    (mapping), and fold fill and drain (compute beyond the steady-state stream)."""
    gemms = [r for r in layers if r["mapping_efficiency"]]
    useful = sum(r["macs"] / pes for r in gemms)
    steady = sum(r["macs"] / (pes * r["mapping_efficiency"]) for r in gemms)
    busy = sum(r["compute_cycles"] for r in gemms)
    return {"useful": useful, "unmapped": steady - useful, "fill_drain": busy - steady,
            "busy": busy}


def measure_a100() -> dict[str, float]:
    """One GPT-3 175B layer on one of 4 A100-like chips, tensor parallel, batch 8: prefill
    of 2048 tokens and one decode step at context 3072; seconds (keys ``a100_...``)."""
    spec, hw = load_llm("gpt3-175b"), a100_system()
    hz = hw.clock_mhz * 1e6
    lay = layout(spec, hw, Parallel.TENSOR, 8)
    out: dict[str, float] = {}
    for phase, tokens, context, real in (("prefill", 2048, 2048, A100_PREFILL_S),
                                         ("decode", 1, 3072, A100_DECODE_S)):
        phase = f"a100_{phase}"
        report = simaccel.simulate(layer_model(spec, lay.shard(spec, hw, tokens, context)),
                                   hw, check=False).to_dict()
        total = report["total"]
        # two all-reduces of the layer's activations (llm.step's own choice of algorithm)
        nbytes = lay.batch * tokens * spec.hidden * hw.dtypes.input.bytes
        comm = 2 * llm._collective(hw, Collective.ALL_REDUCE, lay.tensor, nbytes).cycles  # noqa: SLF001
        out[f"{phase}_real_s"] = sum(real)
        out[f"{phase}_real_matmul_s"] = sum(real[:6])
        out[f"{phase}_real_allreduce_s"] = sum(real[10:])
        out[f"{phase}_s"] = (total["cycles"] + comm) / hz
        out[f"{phase}_chip_s"] = total["cycles"] / hz
        out[f"{phase}_allreduce_s"] = comm / hz
        out[f"{phase}_hbm_bound_s"] = (total["dram_read_bytes"] + total["dram_write_bytes"]) / (
            hw.dram.bandwidth_gbps * 1e9)
        out[f"{phase}_peak_s"] = total["macs"] / (hw.array.pes * hw.chip.cores * hz)
        for core in report["cores"]:
            out[f"{phase}_core{core['core']}_busy_s"] = core["compute_cycles"] / hz
        for part, cycles in _array_time(report["layers"], hw.array.pes).items():
            out[f"{phase}_array_{part}_s"] = cycles / hz
    return out


if __name__ == "__main__":
    for key, value in {**measure(), **measure_a100()}.items():
        print(f"{key:32s} {value:.4g}")
