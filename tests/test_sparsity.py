"""Sparsity: storage formats (bytes derived by hand), measurement, pruning, what each kind of
sparse hardware saves (cycles, DMA bytes, MAC energy) and the N:M array's numerics."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from helpers import model

import simaccel
from simaccel.domain import DType
from simaccel.errors import InputError
from simaccel.frontends.hardware_toml import parse_hardware
from simaccel.graph import build_graph
from simaccel.numerics.execute import run_gemm
from simaccel.numerics.sparse import compress, nm_multiply
from simaccel.pruning import Pruning, magnitude, nm, parse_density, with_weight_density
from simaccel.sparse_formats import uint_bytes
from simaccel.sparse_hw import execution
from simaccel.sparsity import conformity, gemm_view, measure

#: K = 4, N = 2, three nonzeros: column 0 holds 1 and 2, column 1 holds 3.
SMALL = np.array([[[1.0, 0.0], [0.0, 0.0], [2.0, 3.0], [0.0, 0.0]]])


def _hw(dataflow: str = "os", **sparsity: object):
    return parse_hardware({
        "name": "t", "clock_mhz": 1000,
        "array": {"rows": 16, "cols": 16, "dataflow": dataflow},
        "sram": {"ifmap_kib": 8192, "filter_kib": 8192, "ofmap_kib": 8192},
        "dram": {"bytes_per_cycle": float("inf"), "latency_ns": 0},
        "vector": {"lanes": 16}, "sparsity": sparsity}, "<test>")


def _dense_layer(m: int = 32, k: int = 512, n: int = 32, how: Pruning | None = None):
    """One dense layer [m, k] · [k, n] (+ bias), its weights pruned by ``how``."""
    net = model([{"name": "fc", "op": "dense", "inputs": ["x"], "units": n}],
                inputs=[{"name": "x", "shape": [m, k]}])
    return with_weight_density(net, build_graph(net), how) if how else net


# --- storage formats -----------------------------------------------------------------------

def test_index_widths_are_the_narrowest_unsigned_integer() -> None:
    assert [uint_bytes(x) for x in (0, 255, 256, 65535, 65536, 2**32)] == [1, 1, 2, 2, 4, 8]


def test_bytes_per_format_derived_by_hand() -> None:
    stored = measure(SMALL)
    one = {s.format: s.bytes(1) for s in stored.storage}
    # dense: 8 values; bitmap: 3 values + ⌈8 bits / 8⌉ = 1 byte; CSR (rows = K): 3 values +
    # 5 pointers + 3 column indices; CSC: 3 values + 3 pointers + 3 row indices; 2:4: per
    # column one run of 4 keeps 2 values (4 in all) + 4 × 2 bits = 1 byte of indices; 1:2:
    # two runs of 2 keep 1 each (4 values) + 4 × 1 bit; 2:8 and 4:8: one (padded) run of 8
    # keeps 2 or 4 per column (4 or 8 values) + 3 bits each (2 or 3 bytes).
    assert one == {"dense": 8, "bitmap": 4, "csr": 11, "csc": 9, "nm1:2": 5, "nm2:4": 5,
                   "nm2:8": 6, "nm4:8": 11}
    four = {s.format: s.bytes(4) for s in stored.storage}
    assert four == {"dense": 32, "bitmap": 13, "csr": 20, "csc": 18, "nm1:2": 17, "nm2:4": 17,
                    "nm2:8": 18, "nm4:8": 35}


def test_index_bytes_widen_with_the_dimension() -> None:
    # K = 300 rows, one nonzero per column of 2: CSC's row indices need 2 bytes each (299 >
    # 255), CSR's column indices 1 (< 2), CSR has 301 one-byte pointers.
    b = np.zeros((1, 300, 2))
    b[0, 299, 0] = b[0, 7, 1] = 1.0
    sizes = {s.format: s.metadata for s in measure(b).storage}
    assert sizes["csc"] == 3 * 1 + 2 * 2
    assert sizes["csr"] == 301 * 1 + 2 * 1
    assert sizes["bitmap"] == 600 // 8


# --- measurement and pruning ---------------------------------------------------------------

def test_measure_density_densest_column_and_patterns() -> None:
    stored = measure(SMALL)
    assert (stored.nonzeros, stored.density) == (3, 3 / 8)
    assert stored.densest_column == Fraction(2, 4)
    # column 0 has 2 nonzeros in its run of 4: not 1:4 (nor 1:8); one in each run of 2
    assert stored.nm == ((1, 2), (2, 4), (2, 8), (4, 8))
    assert conformity(SMALL, (1, 4)) == 0.5
    assert conformity(SMALL, (1, 2)) == 1.0


def test_magnitude_pruning_zeroes_the_smallest_share() -> None:
    w = np.array([[0.5, -0.1], [0.3, -0.9], [0.05, 0.2]])
    assert np.array_equal(magnitude(w, 0.5), [[0.5, 0.0], [0.3, -0.9], [0.0, 0.0]])


def test_nm_pruning_keeps_the_largest_of_every_run() -> None:
    b = np.array([[[1.0], [-4.0], [3.0], [2.0], [0.5], [0.1]]])  # K = 6: runs of 4 and 2
    assert np.array_equal(nm(b, (2, 4))[0, :, 0], [0.0, -4.0, 3.0, 0.0, 0.5, 0.1])


def test_pruned_conv_conforms_along_the_im2col_k() -> None:
    net = model([{"name": "c", "op": "conv2d", "inputs": ["x"], "filters": 8,
                  "kernel": [3, 3], "padding": "same"}])
    pruned = with_weight_density(net, build_graph(net), Pruning("nm", pattern=(2, 4)))
    b = gemm_view(pruned.weights["c.kernel"], 1)  # K = 3·3·4 = 36: 9 runs per filter
    assert conformity(b, (2, 4)) == 1.0 and conformity(b, (1, 4)) < 1.0
    assert np.count_nonzero(b) == 8 * 9 * 2


def test_weight_density_spec() -> None:
    assert parse_density("0.25") == Pruning("magnitude", sparsity=0.75)
    assert parse_density("2:4") == Pruning("nm", pattern=(2, 4))
    for bad in ("0", "1.5", "3:4", "x"):
        with pytest.raises(ValueError):
            parse_density(bad)


# --- what the hardware saves ---------------------------------------------------------------

def test_24_on_an_nm_array_halves_the_stream_with_the_metadata_stated() -> None:
    """[32, 512] · [512, 32] on 16×16 OS: 2 × 2 folds of K + R + C − 2 cycles, minus 1.
    Dense: 4 · (512 + 30) − 1 = 2167; 2:4: K/2 = 256, 4 · 286 − 1 = 1143: 1.90×, under 2×
    because fill and drain do not shrink. Weights: 8192 values + 8192 × 2 bits = 10240 B
    (62.5% of 16384 dense); MACs that run: half, each with the 0.03 pJ mux."""
    pruned = _dense_layer(how=Pruning("nm", pattern=(2, 4)))
    dense_run = simaccel.simulate(pruned, _hw(), check=False)
    nm_run = simaccel.simulate(pruned, _hw(support="nm"), check=False)
    dense_row, nm_row = dense_run.results.layers[0], nm_run.results.layers[0]
    assert (dense_row.compute_cycles, nm_row.compute_cycles) == (2167, 1143)
    assert 1 < dense_run.results.total.cycles / nm_run.results.total.cycles <= 2
    bias = 32 * 4
    assert dense_row.traffic.dram_read_bytes == 32 * 512 + 512 * 32 + bias
    assert nm_row.traffic.dram_read_bytes == 32 * 512 + 8192 + 2048 + bias
    macs = 32 * 512 * 32
    assert dense_run.energy.layers[0].mac == pytest.approx(macs * 0.3)
    assert nm_run.energy.layers[0].mac == pytest.approx(macs / 2 * (0.3 + 0.03))


def test_weight_stationary_folds_fewer_k_rows_and_input_stationary_saves_nothing() -> None:
    pruned = _dense_layer(how=Pruning("nm", pattern=(2, 4)))
    # WS: K on the rows, 512/16 = 32 row folds × 2 col folds of M + 2R + C − 2 = 78 cycles.
    cycles = {df: [simaccel.simulate(pruned, _hw(df, **sp), check=False)
                   .results.layers[0].compute_cycles for sp in ({}, {"support": "nm"})]
              for df in ("ws", "is")}
    assert cycles["ws"] == [64 * 78 - 1, 32 * 78 - 1]
    assert cycles["is"][0] == cycles["is"][1]


def test_a_dense_array_saves_no_time_but_compression_cuts_dram_bytes() -> None:
    pruned = _dense_layer(how=Pruning("magnitude", sparsity=0.75))
    plain = simaccel.simulate(pruned, _hw(), check=False).results.layers[0]
    packed = simaccel.simulate(pruned, _hw(weight_format="auto"), check=False)
    row = packed.results.layers[0]
    assert row.compute_cycles == plain.compute_cycles
    # 4096 of 16384 weights kept: bitmap 4096 + 2048 B beats CSR (4096 + 513·2 + 4096) and
    # CSC (4096 + 33·2 + 4096·2).
    assert execution(row.work.kernel, packed.hardware).format == "bitmap"
    assert plain.traffic.dram_read_bytes - row.traffic.dram_read_bytes == 16384 - 6144


def test_a_format_set_per_layer_is_stored_and_takes_the_layer_off_the_nm_path() -> None:
    """2:4 weights set to CSR: 8192 values + 513 two-byte pointers (8192 > 255) + 8192
    one-byte column indices (N = 32) = 17410 B, more than dense; the array runs it dense."""
    pruned = _dense_layer(how=Pruning("nm", pattern=(2, 4)))
    run = simaccel.simulate(pruned, _hw(support="nm", layer_formats={"fc": "csr"}),
                            check=False)
    row = run.results.layers[0]
    assert execution(row.work.kernel, run.hardware).format == "csr"
    assert row.traffic.dram_read_bytes == 32 * 512 + 17410 + 32 * 4
    assert row.compute_cycles == 2167
    with pytest.raises(InputError, match=r"sparsity\.layer_formats\.nope: the model has no"):
        simaccel.simulate(pruned, _hw(layer_formats={"nope": "csr"}), check=False)


def test_unstructured_gating_saves_energy_and_skipping_time_by_the_densest_column() -> None:
    pruned = _dense_layer(how=Pruning("magnitude", sparsity=0.75))
    kernel = simaccel.simulate(pruned, _hw(), check=False).results.layers[0].work.kernel
    densest = kernel.sparsity.densest_column
    gated = simaccel.simulate(pruned, _hw(support="unstructured", gating=True), check=False)
    skipped = simaccel.simulate(pruned, _hw(support="unstructured", skipping=True),
                                check=False)
    macs = 32 * 512 * 32
    assert gated.results.layers[0].compute_cycles == 2167
    assert gated.energy.layers[0].mac == pytest.approx(macs * 0.25 * 0.3)
    stream = -(-512 * densest.numerator // densest.denominator)  # ⌈512 × densest⌉
    assert 128 < stream < 512
    assert skipped.results.layers[0].compute_cycles == 4 * (stream + 30) - 1


def test_all_zero_weights_on_a_skipping_array_stream_one_k_row_a_fold() -> None:
    empty = _dense_layer(m=32, k=64, n=32, how=Pruning("magnitude", sparsity=1.0))
    run = simaccel.simulate(empty, _hw(support="unstructured", skipping=True), check=True)
    row = run.results.layers[0]
    assert row.compute_cycles == 4 * (1 + 30) - 1 and row.check.status == "pass"
    assert run.energy.layers[0].mac == 0.0


def test_activation_gating_uses_the_zero_share_the_numerics_measured() -> None:
    net = _dense_layer(m=4, k=8, n=4)
    x = np.arange(32, dtype=float).reshape(4, 8) % 4 - 1.0  # values -1, 0, 1, 2: 1/4 zero
    run = simaccel.simulate(net, _hw(activation_gating=True), check=True, inputs={"x": x})
    assert run.results.layers[0].check.zero_activations == 0.25
    assert run.energy.layers[0].mac == pytest.approx(4 * 8 * 4 * 0.75 * 0.3)
    off = simaccel.simulate(net, _hw(), check=True, inputs={"x": x})
    assert off.energy.layers[0].mac == pytest.approx(4 * 8 * 4 * 0.3)


def test_sparsity_config_is_checked() -> None:
    for bad, field in (({"gating": True}, "sparsity.gating"),
                       ({"support": "unstructured"}, "sparsity.support"),
                       ({"pattern": "3:4"}, "sparsity.pattern")):
        with pytest.raises(InputError, match=field.replace(".", r"\.")):
            _hw(**bad)


# --- numerics ------------------------------------------------------------------------------

def test_nm_multiply_reorders_the_reduction_and_drops_what_does_not_conform() -> None:
    rng = np.random.default_rng(1)
    b = nm(rng.standard_normal((1, 10, 3)), (2, 4))
    a = rng.standard_normal((1, 5, 10))
    mult = nm_multiply((2, 4))
    assert np.allclose(mult(a, b, 0), a @ b, rtol=1e-12, atol=1e-12)
    # a block starting at K = 6 (mid-run): runs are 6..8 and 8..10 of the whole K
    assert np.allclose(mult(a[:, :, 6:], b[:, 6:], 6), a[:, :, 6:] @ b[:, 6:])
    values, index, front = compress(b[:, 6:], 6, (2, 4))
    assert front == 2 and values.shape == (1, 2, 2, 3)
    dense_b = rng.standard_normal((1, 8, 3))  # 4 nonzeros a run: the array keeps only 2
    assert not np.allclose(mult(a[:, :, :8], dense_b, 0), a[:, :, :8] @ dense_b)


@pytest.mark.parametrize("dtype", ["int8", "fp32"])
def test_pruned_digits_run_exactly_on_an_nm_array(dtype: str) -> None:
    digits = simaccel.load_model(
        __import__("pathlib").Path(__file__).parent.parent / "workloads" / "digits_cnn.json")
    pruned = with_weight_density(digits, build_graph(digits), Pruning("nm", pattern=(2, 4)))
    hw = simaccel.vary(simaccel.load_hardware("gemmini"), {
        "sparsity.support": "nm", "dtypes.input": dtype, "dtypes.weight": dtype,
        "dtypes.accumulator": "int32" if dtype == "int8" else "fp32"})
    report = simaccel.simulate(pruned, hw, check=True)
    gemms = [r for r in report.results.layers if r.work.kernel.kind == "gemm"]
    assert all(execution(r.work.kernel, hw).skips == "nm" for r in gemms)
    assert all(r.check.status == "pass" for r in report.results.layers)
    if DType(dtype).is_integer:
        assert all(r.check.max_abs_error == 0.0 for r in gemms)


def test_an_nm_program_that_drops_a_nonzero_fails_the_check() -> None:
    """run_gemm with the N:M multiply on weights that do not conform: the result differs
    from the dense reference, so a wrong compression cannot pass."""
    from simaccel.pipeline import compile as compile_program

    net = _dense_layer(m=4, k=8, n=4)
    program = compile_program(net, _hw(support="nm"))
    rng = np.random.default_rng(2)
    a, b = rng.integers(-3, 4, (1, 4, 8)).astype(float), np.ones((1, 8, 4))
    gemm = [ins for ins in program.instructions if ins.kernel == 0]
    out = run_gemm(gemm, a, b, np.zeros((1, 4)), DType.INT32, nm_multiply((2, 4)))
    assert not np.array_equal(out.accumulators, a @ b)


# --- command line --------------------------------------------------------------------------

DIGITS = str(__import__("pathlib").Path(__file__).parent.parent / "workloads" / "digits_cnn.json")


def test_prune_writes_a_model_simaccel_reads_back(tmp_path, capsys) -> None:
    from simaccel.cli import main

    out = tmp_path / "d24.json"
    assert main(["prune", DIGITS, "--method", "nm", "--nm", "2:4", "-o", str(out)]) == 0
    assert "wrote" in capsys.readouterr().out
    back = simaccel.load_model(out)
    kernels = simaccel.pipeline.prepare(back).kernels
    conv2 = next(k for k in kernels if k.name == "conv2")
    assert conv2.sparsity.nm == ((2, 4), (4, 8)) and conv2.sparsity.density == 0.5
    assert main(["sparsity", str(out), "--hw", "gemmini"]) == 0
    table = capsys.readouterr().out
    assert "conv2" in table and "0.500" in table and "100%" in table
    capsys.readouterr()
    assert main(["prune", DIGITS, "--method", "magnitude", "--sparsity", "0.7", "-o",
                 str(tmp_path / "m70.json")]) == 0
    weights = simaccel.load_model(tmp_path / "m70.json").weights
    assert np.count_nonzero(weights["fc1.kernel"]) == round(0.3 * 128 * 64)


@pytest.mark.parametrize("argv, field", [
    (["--method", "magnitude", "--sparsity", "1.5"], "--sparsity"),
    (["--method", "nm", "--nm", "3:4"], "--nm"),
    (["--method", "nm"], "--nm"),
])
def test_bad_prune_options_exit_2_and_write_nothing(tmp_path, capsys, argv, field) -> None:
    from simaccel.cli import main

    assert main(["prune", DIGITS, *argv, "-o", str(tmp_path / "x.json")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"simaccel: {field}") and err.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


def test_a_bad_sparsity_section_is_one_line_naming_the_field(tmp_path, capsys) -> None:
    from simaccel.cli import main

    path = tmp_path / "chip.toml"
    path.write_text('name = "c"\nclock_mhz = 1000\n[array]\nrows = 8\ncols = 8\n'
                    'dataflow = "os"\n[sram]\nifmap_kib = 64\nfilter_kib = 64\n'
                    'ofmap_kib = 64\n[dram]\nbytes_per_cycle = 16\nlatency_ns = 0\n'
                    '[vector]\nlanes = 8\n[sparsity]\nskipping = true\n')
    assert main(["simulate", DIGITS, "--hw", str(path)]) == 2
    err = capsys.readouterr().err
    assert "sparsity.skipping" in err and err.count("\n") == 1


def test_a_bad_weight_density_is_one_line_and_exit_2(capsys) -> None:
    from simaccel.cli import main

    assert main(["simulate", DIGITS, "--weight-density", "1.5"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("simaccel: --weight-density") and err.count("\n") == 1


@pytest.mark.parametrize("text", ["1e-320", "1e-12"])
def test_a_density_that_leaves_no_weight_is_refused(text: str) -> None:
    """Found by a newcomer: a subnormal --weight-density was accepted."""
    from simaccel.pruning import parse_density

    with pytest.raises(ValueError, match="leaves no weight"):
        parse_density(text)


@pytest.mark.parametrize("side,dataflow", [(1, "os"), (1, "ws"), (16, "os"), (4, "ws")])
@pytest.mark.parametrize("how,sparsity", [
    (Pruning("nm", pattern=(2, 4)), {"support": "nm"}),
    (Pruning("magnitude", sparsity=0.9), {"support": "unstructured", "skipping": True}),
])
def test_a_sparse_array_that_skips_never_shows_utilization_above_one(
        side: int, dataflow: str, how: Pruning, sparsity: dict) -> None:
    """Issue 13, item 1 on sparse arrays (a fresh tester's case: a 1×1 array at weight
    density 0.1 reported 460% utilization, the 2:4 one 192%): utilization and mapping
    efficiency count the MACs the array spends PE-cycles on, those of the K it folds
    (``array_macs`` = m · ⌈k · k_ratio⌉ · n), not the dense count; ``macs`` stays the
    dense M·K·N and TOPS the dense-equivalent throughput."""
    hw = parse_hardware({
        "name": "t", "clock_mhz": 1000,
        "array": {"rows": side, "cols": side, "dataflow": dataflow},
        "sram": {"ifmap_kib": 8192, "filter_kib": 8192, "ofmap_kib": 8192},
        "dram": {"bytes_per_cycle": float("inf"), "latency_ns": 0},
        "vector": {"lanes": 16}, "sparsity": sparsity}, "<test>")
    run = simaccel.simulate(_dense_layer(m=8, k=64, n=8, how=how), hw, check=False)
    row, total = run.results.layers[0], run.results.total
    k_ratio = execution(row.work.kernel, hw).k_ratio
    assert k_ratio < 1  # the array does skip
    assert row.macs == 8 * 64 * 8
    assert row.array_macs == 8 * -(-64 * k_ratio.numerator // k_ratio.denominator) * 8
    assert row.compute_cycles * side * side >= row.array_macs  # PE-cycles hold them
    assert 0 < row.utilization <= row.mapping_efficiency <= 1
    assert 0 < total.utilization <= total.mapping_efficiency <= 1
    assert run.to_dict()["total"]["array_macs"] == row.array_macs
