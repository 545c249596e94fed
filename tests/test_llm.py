"""LLM inference: HuggingFace configs, per-chip layer shards, parallel layouts, the decode
method, memory refusal and the ``simaccel llm`` verb (docs/architecture.md, "LLM
inference")."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

import simaccel
from simaccel import llm
from simaccel.cli import main
from simaccel.collectives import Algorithm, Collective, plan
from simaccel.frontends.hf_config import load_llm
from simaccel.llm_layers import layer_model
from simaccel.llm_parallel import Parallel, layout
from simaccel.network import system_network

DATA = Path(__file__).resolve().parent / "data" / "llm"


@pytest.mark.parametrize(("name", "published"), [
    # HuggingFace's parameter counts of the released checkpoints, which add the RMSNorm
    # weights (2 per layer and a final one, hidden each) that LlmSpec.params leaves out
    ("llama2-7b", 6_738_415_616),
    (str(DATA / "mistral_7b.json"), 7_241_732_096),
    ("llama3-8b", 8_030_261_248),
])
def test_parameter_counts_match_the_released_checkpoints(name: str, published: int) -> None:
    spec = load_llm(name)
    assert spec.params + (2 * spec.layers + 1) * spec.hidden == published


def test_configs_read_each_family_as_transformers_names_it() -> None:
    gpt2, opt = load_llm(str(DATA / "gpt2.json")), load_llm(str(DATA / "opt_125m.json"))
    assert (gpt2.layers, gpt2.hidden, gpt2.intermediate, gpt2.activation) == (
        12, 768, 3072, "gelu_tanh")
    assert gpt2.tied_embeddings and opt.activation == "relu" and opt.intermediate == 3072
    mistral = load_llm(str(DATA / "mistral_7b.json"))
    assert (mistral.heads, mistral.kv_heads, mistral.window) == (32, 8, 4096)
    assert mistral.attended(10_000) == 4096 and mistral.attended(100) == 100
    # GQA: 8 KV heads of 128 in 32 layers, K and V: 65,536 elements per token
    assert mistral.kv_elements_per_token() == 2 * 32 * 8 * 128
    gpt3 = load_llm("gpt3-175b")  # Brown et al. 2020, Table 2.1: 175.0 B
    assert gpt3.params == pytest.approx(175e9, rel=0.005)


def test_tensor_parallel_shards_split_a_layers_macs_exactly() -> None:
    """Llama 2 7B's 32 heads and 11,008 FFN columns divide by 8: eight chips' shards
    together do the MACs of the whole layer, each an eighth."""
    spec, hw = load_llm("llama2-7b"), simaccel.load_hardware("tpu_v4_like_x8")
    whole = layout(spec, simaccel.load_hardware("tpu_v4_like"), Parallel.TENSOR, 2)
    split = layout(spec, hw, Parallel.TENSOR, 2)
    def macs(lay) -> int:
        graph = simaccel.pipeline.prepare(layer_model(spec, lay.shard(spec, hw, 16, 16)))
        return sum(k.macs for k in graph.kernels)
    assert macs(split) * 8 == macs(whole)
    # 2 sequences × 16 tokens, each: one MAC per layer weight, and attention's
    # 2 × heads × head_dim × context (scores, then context)
    assert macs(whole) == 2 * 16 * (spec.layer_params + 2 * 32 * 128 * 16)


def test_decode_batch_1_on_one_chip_is_bound_by_weight_bytes_over_bandwidth() -> None:
    """Llama 2 7B on tpu_v1 (int8, 34 GB/s): a decode step reads every weight but the
    embedding table once; time per token within 10% of those bytes / the DRAM bandwidth."""
    spec, hw = load_llm("llama2-7b"), simaccel.load_hardware("tpu_v1")
    run = llm.infer(spec, hw, Parallel.TENSOR, batch=1, prompt=16, generate=2)
    weights = spec.layers * spec.layer_params + spec.head_params  # int8: one byte each
    bound_s = weights / (hw.dram.bandwidth_gbps * 1e9)
    tpot_s = run.decode.mean.cycles / (hw.clock_mhz * 1e6)
    assert bound_s <= tpot_s <= 1.10 * bound_s
    assert run.footprint.weights_read_bytes == weights


def test_tensor_parallel_communication_is_two_ring_all_reduces_a_layer() -> None:
    """GPT-2 batch 1, prompt 64 on eight chips: per layer two ring all-reduces of the
    64 × 768 bf16 activations, and one all-gather of the 50,257 logits, each exactly its
    α–β time on the ring (2(p−1) and p−1 steps of latency + a chunk)."""
    spec = load_llm(str(DATA / "gpt2.json"))
    hw = simaccel.load_hardware("tpu_v4_like_x8")
    run = llm.infer(spec, hw, Parallel.TENSOR, batch=1, prompt=64, generate=1)
    net = system_network(hw)
    def ring_cycles(steps: int, nbytes: int) -> int:
        chunk = math.ceil(math.ceil(nbytes / 8) / net.bytes_per_cycle)
        return steps * (net.latency_cycles + chunk)
    expected = 12 * 2 * ring_cycles(14, 64 * 768 * 2) + ring_cycles(7, 50257 * 2)
    assert run.prefill.comm.cycles == expected
    assert run.prefill.cycles == run.prefill.compute_cycles + expected
    assert len(plan(Collective.ALL_REDUCE, Algorithm.RING, 8, 98304)) == 14 * 8


@pytest.mark.parametrize(("batch", "micro", "bubble"), [(1, 1, 7 / 8), (8, 8, 7 / 15)])
def test_pipeline_prefill_has_the_gpipe_bubble(batch: int, micro: int, bubble: float) -> None:
    """Eight stages, m micro-batches: m + 7 slots of which m per stage work, so the idle
    share is 7 / (m + 7)."""
    spec = load_llm(str(DATA / "opt_125m.json"))
    hw = simaccel.load_hardware("tpu_v4_like_x8")
    run = llm.infer(spec, hw, Parallel.PIPELINE, batch=batch, prompt=32, generate=1)
    assert (run.layout.stages, run.layout.stage_layers, run.layout.micro_batches) == (
        8, 2, micro)
    assert run.prefill.bubble == pytest.approx(bubble)


def test_data_parallel_chips_each_run_their_share_of_the_batch_alone() -> None:
    spec = load_llm(str(DATA / "gpt2.json"))
    system = llm.infer(spec, simaccel.load_hardware("tpu_v4_like_x8"), Parallel.DATA,
                       batch=16, prompt=32, generate=1)
    chip = llm.infer(spec, simaccel.load_hardware("tpu_v4_like"), Parallel.DATA,
                     batch=2, prompt=32, generate=1)
    assert system.layout.batch == 2 and system.prefill.comm.cycles == 0
    assert system.prefill.cycles == chip.prefill.cycles
    assert system.prefill.macs == 8 * chip.prefill.macs


def test_trapezoid_decode_matches_every_step_simulated() -> None:
    """GPT-2, batch 16, 16 decode steps after an 8-token prompt (context 9 … 24, so the
    KV reads nearly treble): the trapezoid total is within the reported midpoint error (and
    1e-4) of simulating all sixteen, where timing every step like the first is 0.1% off."""
    spec, hw = load_llm(str(DATA / "gpt2.json")), simaccel.load_hardware("tpu_v4_like")
    lay = layout(spec, hw, Parallel.TENSOR, 16)
    phase = llm.decode(spec, hw, lay, prompt=8, generate=17)
    steps = [llm.step(spec, hw, lay, 1, 8 + j).cycles for j in range(1, 17)]
    exact, estimate = sum(steps), phase.mean.cycles * phase.steps
    assert abs(estimate - exact) / exact <= max(phase.interpolation_error, 1e-5) <= 1e-4
    assert abs(steps[0] * 16 - exact) / exact > 1e-3  # attention grows with the context


def test_auto_picks_the_fastest_layout_and_says_why() -> None:
    spec = load_llm(str(DATA / "opt_125m.json"))
    hw = simaccel.load_hardware("tpu_v4_like_x8")
    runs = {p: llm.infer(spec, hw, p, batch=8, prompt=32, generate=4)
            for p in (Parallel.DATA, Parallel.TENSOR, Parallel.PIPELINE)}
    auto = llm.infer(spec, hw, Parallel.AUTO, batch=8, prompt=32, generate=4)
    fastest = min(runs, key=lambda p: llm.total_cycles(runs[p]))
    assert auto.layout.parallel is fastest
    assert llm.total_cycles(auto) == llm.total_cycles(runs[fastest])
    assert auto.why.startswith(f"fastest of {fastest.value}")
    assert all(p.value in auto.why for p in runs)


def test_a_model_that_fits_no_chip_is_refused_naming_the_memory(tmp_path, capsys) -> None:
    """GPT-3 175B in bf16 is 350 GB: 41.9 GiB a chip under tensor parallelism on eight
    32 GiB chips, more under the others."""
    code = main(["llm", "gpt3-175b", "--prompt", "2048", "--generate", "128", "--hw",
                 "tpu_v4_like_x8", "--parallel", "auto", "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert err[0].startswith("simaccel: --parallel: auto: tensor: 41.9 GiB per chip")
    assert "pipeline:" in err[0] and "data:" in err[0] and "32.0 GiB of DRAM" in err[0]
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("edit", "field"), [
    ({"hidden_size": None}, "hidden_size"),
    ({"model_type": "bert"}, "model_type"),
    ({"num_key_value_heads": 5}, "num_key_value_heads"),
    ({"num_hidden_layers": "32"}, "num_hidden_layers"),
    ({"hidden_act": "mish"}, "hidden_act"),
])
def test_bad_configs_are_refused_naming_file_and_key(edit, field, tmp_path, capsys) -> None:
    data = json.loads((DATA / "llama2_7b.json").read_text())
    data.update(edit)
    data = {k: v for k, v in data.items() if v is not None}
    path = tmp_path / "config.json"
    path.write_text(json.dumps(data))
    assert main(["llm", str(path), "--hw", "tpu_v4_like"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"simaccel: {path}: {field}: ")


@pytest.mark.parametrize(("argv", "flag"), [
    (["--prompt", "0"], "--prompt"), (["--batch", "two"], "--batch"),
    (["--parallel", "expert"], "--parallel"), (["--generate", "-3"], "--generate"),
])
def test_bad_arguments_are_refused_in_one_line(argv, flag, capsys) -> None:
    assert main(["llm", str(DATA / "gpt2.json"), *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"simaccel: {flag}: ")


def test_cli_writes_the_report_and_a_trace_with_core_and_link_tracks(tmp_path) -> None:
    out = tmp_path / "run"
    assert main(["llm", str(DATA / "gpt2.json"), "--prompt", "32", "--generate", "4",
                 "--batch", "2", "--hw", "tpu_v4_like_x8", "--parallel", "tensor",
                 "--out", str(out)]) == 0
    report = json.loads((out / "llm.json").read_text())
    assert report["parallel"] == "tensor" and report["decode_steps"] == 3
    for phase in ("prefill", "decode"):
        p = report[phase]
        assert 0 < p["comm_share"] < 1 and 0 < p["utilization"] < 1
        assert len(p["cores"]) == 2 and len(p["links"]) == 16
        assert sum(link["bytes"] for link in p["links"]) > 0
    assert report["tokens_per_s"] > 0 and report["memory"]["fits"]
    trace = json.loads((out / "trace.json").read_text())
    tracks = {e["args"]["name"] for e in trace["traceEvents"] if e["name"] == "thread_name"}
    assert {"array", "c1.array", "link.0-1", "link.7-0"} <= tracks


def test_collectives_take_the_faster_of_ring_and_tree() -> None:
    """Eight chips behind a switch: a 1 KiB all-reduce by the tree is 2·3 latencies + 6
    messages, fewer than the ring's 14 latencies; 64 MiB by the ring is 14 chunks of
    8 MiB, far less than the tree's 6 whole messages."""
    from simaccel.hardware import vary

    hw = vary(simaccel.load_hardware("tpu_v4_like_x8"), {"system.topology": "switch"})
    net = system_network(hw)
    def cycles(nbytes: int) -> int:
        return math.ceil(nbytes / net.bytes_per_cycle)
    small, large = 1024, 64 << 20
    assert llm._collective(hw, Collective.ALL_REDUCE, 8, small).cycles == 6 * (
        net.latency_cycles + cycles(small))
    assert llm._collective(hw, Collective.ALL_REDUCE, 8, large).cycles == 14 * (
        net.latency_cycles + cycles(large // 8))


def test_llm_sweep_varies_parallel_and_hardware_fields_one_row_a_point() -> None:
    from simaccel.llm_sweep import sweep_llm

    grid = {"parallel": ["tensor"], "system.chips": [4], "dram.capacity_gib": [0.01]}
    refused = sweep_llm(str(DATA / "opt_125m.json"), "tpu_v4_like_x8", grid)
    assert "exceed" in refused["error"].item()  # a point that cannot run: a row, not a crash
    with pytest.raises(simaccel.errors.InputError, match="'system.links' is not a"):
        sweep_llm(str(DATA / "opt_125m.json"), "tpu_v4_like_x8", {"system.links": [1]})
    grid = {"parallel": ["data", "tensor", "auto", "experts"], "system.chips": [1, 4],
            "system.link_gbps": [50, 100]}
    with pytest.raises(simaccel.errors.InputError, match="'experts' is not one of"):
        sweep_llm(str(DATA / "opt_125m.json"), "tpu_v4_like_x8", grid)
    grid["parallel"] = ["data", "tensor", "auto"]
    frame = sweep_llm(str(DATA / "opt_125m.json"), "tpu_v4_like_x8", grid, batch=4,
                      prompt=32, generate=3)
    assert len(frame) == 12 and (frame["error"] == "").all()
    single = frame[frame["system.chips"] == 1]
    assert single["ttft_s"].nunique() == 1  # one chip: every layout is the same run
    tensor = frame[(frame["parallel"] == "tensor") & (frame["system.chips"] == 4)]
    fast, slow = tensor.sort_values("system.link_gbps")["prefill_comm_share"]
    assert 0 < slow < fast  # faster links: a smaller share of the time communicating
    auto = frame[(frame["parallel"] == "auto") & (frame["system.chips"] == 4)]
    assert set(auto["chosen"]) <= {"data", "tensor", "pipeline"}


def test_llm_verb_sweeps_to_a_csv(tmp_path, capsys) -> None:
    out = tmp_path / "sweep"
    assert main(["llm", str(DATA / "gpt2.json"), "--prompt", "16", "--generate", "2",
                 "--hw", "tpu_v4_like_x8", "--sweep", "parallel=data,tensor",
                 "--sweep", "system.topology=ring,switch", "--out", str(out)]) == 0
    import pandas as pd

    frame = pd.read_csv(out / "llm_sweep.csv", keep_default_na=False)
    assert list(frame["parallel"]) == ["data", "data", "tensor", "tensor"]
    assert list(frame["system.topology"]) == ["ring", "switch"] * 2
    assert (frame["error"] == "").all() and "tokens_per_s" in capsys.readouterr().out


@pytest.mark.parametrize(("batch", "tokens"), [(2, 16), (1, 16), (3, 1)])
def test_one_head_on_two_cores_splits_rows_keeping_the_macs(batch: int, tokens: int) -> None:
    """A chip with one head and two cores splits its sequences (or one sequence's tokens)
    over the cores: the layer's MACs are those of the one-core layer, and both cores'
    arrays work."""
    from simaccel.llm_layers import Shard

    spec = load_llm("llama2-7b")
    def layer(cores: int):
        return layer_model(spec, Shard(batch, tokens, 16, 1, 1, 1376, cores))
    def macs(m) -> int:
        return sum(k.macs for k in simaccel.pipeline.prepare(m).kernels)
    assert macs(layer(2)) == macs(layer(1))
    names = {layer.name for layer in layer(2).layers}
    assert {"c0.q", "c1.q", "c0.scores", "c1.scores", "attn.rows"} <= names
    hw = simaccel.load_hardware("tpu_v4_like")
    program = simaccel.compile(layer(2), hw)
    kernels = [k.name for k in program.kernels]
    assert {program.kernel_cores[kernels.index(f"c{i}.q")] for i in (0, 1)} == {0, 1}


def test_a_config_with_a_duplicate_key_is_bad_input(tmp_path, capsys) -> None:
    """Found by a newcomer: json.loads keeps the last of two keys; model and hardware files
    refuse them, and so does an LLM config."""
    from simaccel.cli import main

    path = tmp_path / "config.json"
    path.write_text('{"model_type": "gpt2", "n_embd": 768, "n_embd": 64, "n_layer": 2, '
                    '"n_head": 2, "n_positions": 64, "vocab_size": 100}')
    assert main(["llm", str(path), "--prompt", "8", "--generate", "2", "--hw", "tpu_v1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "duplicate key 'n_embd'" in err


def test_a_sweep_value_given_twice_is_bad_input() -> None:
    """Found by a newcomer: --sweep system.chips=2,2 printed the same row twice; the sweep
    spec refuses repeated values, and so does the LLM sweep."""
    import pytest

    from simaccel.errors import InputError
    from simaccel.llm_sweep import check_grid

    with pytest.raises(InputError, match="2 is given twice"):
        check_grid({"system.chips": [2, 2]})
    check_grid({"system.chips": [2, 4]})
