"""Run a whole model in the accelerator's arithmetic, kernel by kernel, and check each one.

* The **fp model**: every layer in float64 (`reference.layer_forward`) on the run's inputs.
  It calibrates the activation scales (symmetric, per tensor, from each tensor's largest
  magnitude) and is what the quantized model's SQNR is measured against.
* The **accelerator**: inputs and weights in the hardware's types (int8/int16 quantized,
  weights per output channel; bf16/fp16/fp32 rounded), GEMMs executed from the Program's
  load, matmul and store instructions (`execute.run_gemm`), outputs requantized for the next layer,
  vector ops computed on the dequantized inputs and requantized.
* The **check**: each GEMM's accumulators against an independent reference on the *same*
  quantized operands (direct convolution, plain matmul): bit-exact for integer types; for
  float types within the fp32-accumulation bound |err| ≤ 2·K·2⁻²⁴·(|A|·|B|). Each vector
  kernel within half an output quantization step (or a rounding of the type) of the float64
  op applied to its dequantized inputs.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future
from contextlib import AbstractContextManager
from dataclasses import dataclass

import numpy as np

from simaccel.domain import DType
from simaccel.graph import Graph
from simaccel.hardware import Hardware
from simaccel.kernels import GemmKernel, VectorKernel
from simaccel.model import BatchNorm, Conv2d, Dense, MatMul
from simaccel.numerics import reference
from simaccel.numerics.execute import ProgramFault, run_gemm
from simaccel.numerics.outcome import Check
from simaccel.numerics.quant import (
    INT_MAX,
    MASK_MAGNITUDE,
    QTensor,
    finite_max,
    has_masks,
    quantize,
    round_to,
    scale_for,
    sqnr_db,
    to_accelerator,
)
from simaccel.numerics.sparse import Multiply, dense_multiply, nm_multiply
from simaccel.numerics.tiled import GemmOutcome, conv_weights, im2col
from simaccel.program import Instruction, Opcode, Program
from simaccel.schedule import LayerSchedule, Schedule
from simaccel.sparse_hw import execution

#: Ops whose integer outputs keep their input's scale: they only select or move values.
SCALE_PRESERVING = ("maxpool2d", "flatten", "reshape", "transpose", "relu")


@dataclass(frozen=True)
class NumericsRun:
    """Per-kernel checks (schedule order), the accelerator's outputs (real values) and the
    fp model's, per model output."""

    checks: tuple[Check, ...]
    outputs: Mapping[str, np.ndarray]
    fp_outputs: Mapping[str, np.ndarray]


def fp_model(graph: Graph, params: Mapping, inputs: Mapping[str, np.ndarray]) -> dict:
    """Every tensor of the model in float64."""
    tensors = dict(inputs)
    for name in graph.order:
        layer = graph.layer(name)
        tensors[name] = reference.layer_forward(layer, [tensors[t] for t in layer.inputs],
                                                params.get(name, {}))
    return tensors


class Helpers:
    """The check's second core (docs/architecture.md, "Numerics"): two helper threads and
    BLAS on one thread each, so that products run side by side instead of one BLAS pool
    (OpenBLAS's, measured 2–5× slower than one thread per product for array-sized tiles on
    a machine busy with other work). numpy releases the GIL in its products and bulk loops,
    so the fp model runs ahead on one helper while the main thread builds the Program and
    executes it, and each GEMM's reference is computed on the other while the Program's
    tiles multiply. Results are the same as in one thread: every value is computed by the
    same operations; only when is different."""

    def __enter__(self) -> Helpers:
        import threading
        from concurrent.futures import ThreadPoolExecutor

        self.stop = threading.Event()  #: set on leaving: a helper still running stops early
        self._limit = _one_blas_thread()
        self._limit.__enter__()
        self.ahead = ThreadPoolExecutor(1, thread_name_prefix="simaccel-fp")
        self.beside = ThreadPoolExecutor(1, thread_name_prefix="simaccel-reference")
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.ahead.shutdown(cancel_futures=True)
        self.beside.shutdown(cancel_futures=True)
        self._limit.__exit__(*exc)


class FpModel:
    """`fp_model` computed on a helper thread, layer by layer in execution order, drawing
    each layer's parameters just before it needs them: ``fp.tensors[name]`` and
    ``fp.params[layer]`` wait until that value exists (and raise what the helper raised if
    it failed before reaching it). ``params``: (layer, parameters) pairs in execution order
    (`simaccel.numerics.weights.layer_params`), for the layers ``param_layers`` names."""

    def __init__(self, graph: Graph, params: Iterable[tuple[str, Mapping]],
                 param_layers: Iterable[str], inputs: Mapping[str, np.ndarray],
                 helpers: Helpers) -> None:
        import threading

        ready = threading.Condition()
        self.params = _Published(param_layers, ready)
        self.tensors = _Published((*inputs, *graph.order), ready)
        self.tensors.values_.update(inputs)
        self._stop = helpers.stop
        self.params.future = self.tensors.future = helpers.ahead.submit(
            self._run, graph, iter(params))

    def _run(self, graph: Graph, params: Iterator[tuple[str, Mapping]]) -> None:
        try:
            self._forward(graph, params)
        finally:  # wake every reader: what it waits for may never come
            self.params.finished = self.tensors.finished = True
            self.tensors.publish(None, None)

    def _forward(self, graph: Graph, params: Iterator[tuple[str, Mapping]]) -> None:
        tensors, drawn = self.tensors.values_, self.params.values_
        for name in graph.order:
            if self._stop.is_set():  # the check ended (an error, an interrupt): stop
                return
            if name in self.params and name not in drawn:
                for layer, values in params:  # draw up to this layer
                    self.params.publish(layer, values)
                    if layer == name:
                        break
            layer = graph.layer(name)
            self.tensors.publish(name, reference.layer_forward(
                layer, [tensors[t] for t in layer.inputs], drawn.get(name, {})))
        for layer, values in params:  # parameters of layers the fp model never ran
            self.params.publish(layer, values)


class _Published(Mapping):
    """A mapping whose keys are known up front and whose values a helper thread publishes;
    reading a value waits for it (`FpModel`)."""

    def __init__(self, keys: Iterable[str], ready) -> None:
        self._keys = tuple(dict.fromkeys(keys))
        self._known = set(self._keys)
        self._ready = ready
        self.future: Future | None = None  #: the helper's work, set once it is submitted
        self.finished = False  #: the helper has stopped publishing (done or failed)
        self.values_: dict[str, object] = {}

    def publish(self, key: str | None, value: object) -> None:
        """Set ``key`` and wake every reader (``None``: only wake them)."""
        with self._ready:
            if key is not None:
                self.values_[key] = value
            self._ready.notify_all()

    def __getitem__(self, key: str):
        if key not in self._known:
            raise KeyError(key)
        if key not in self.values_:
            assert self.future is not None
            with self._ready:  # the helper wakes readers after each value and when it ends
                self._ready.wait_for(lambda: key in self.values_ or self.finished)
            if key not in self.values_:
                self.future.result()  # raises the helper's error
                raise KeyError(key)  # the helper stopped before it: the check ended
        return self.values_[key]

    def __contains__(self, key: object) -> bool:
        return key in self._known

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)


def run(graph: Graph, schedule: Schedule, program: Program, params: Mapping,
        inputs: Mapping[str, np.ndarray],
        on_kernel: Callable[[int], None] | None = None,
        fp: FpModel | None = None, helpers: Helpers | None = None) -> NumericsRun:
    """Execute ``program`` (compiled from ``schedule``) numerically and check every kernel;
    ``on_kernel`` is told how many kernels are done after each. ``fp`` and ``helpers``: an
    fp model already started on ``helpers`` (`simaccel.pipeline` starts it before it
    compiles the Program); by default both are made here."""
    if helpers is None:
        with Helpers() as own:
            return run(graph, schedule, program, params, inputs, on_kernel,
                       FpModel(graph, params.items(), params, inputs, own), own)
    if any(ins.op is Opcode.SKIP for ins in program.instructions):
        raise ValueError("the numerics execute every tile: compile the schedule with "
                         "build_schedule(..., exact=True)")
    assert fp is not None
    fp_tensors = fp.tensors
    hw = schedule.hardware
    integer = {spec.name for spec in graph.model.inputs if spec.dtype.is_integer}
    held = {name: _exact(np.asarray(x, dtype=np.float64)) if name in integer
            else to_accelerator(x, hw.dtypes.input)
            for name, x in inputs.items()}  # token ids and masks are held exactly
    by_kernel: dict[int, list[Instruction]] = {}
    for ins in program.instructions:
        by_kernel.setdefault(ins.kernel, []).append(ins)
    checks = []
    for index, work in enumerate(schedule.layers):
        kernel = work.kernel
        if isinstance(kernel, GemmKernel):
            out, check = _gemm(graph, work, by_kernel.get(index, []), held, params, fp_tensors,
                               hw, helpers)
        else:
            out, check = _vector(graph, kernel, held, params, fp_tensors, hw)
        held[kernel.output] = out
        checks.append(check)
        if on_kernel is not None:
            on_kernel(len(checks))
    outputs = {name: held[name].real() for name in graph.model.outputs}
    return NumericsRun(tuple(checks), outputs,
                       {name: fp_tensors[name] for name in graph.model.outputs})


def _requantize(y: np.ndarray, name: str, fp: Mapping, dtype: DType) -> QTensor:
    """Outputs into the input type, calibrated on the fp model's same tensor."""
    return to_accelerator(y, dtype, finite_max(fp[name]) if dtype.is_integer else None)


def _folded(graph: Graph, kernel: GemmKernel, params: Mapping) -> tuple[np.ndarray, np.ndarray]:
    """HWIO (or [K, N]) weights and bias with every fused batchnorm folded in (float64)."""
    layer = graph.layer(kernel.name)
    own = params[kernel.name]
    weights = own["kernel"]
    bias = own.get("bias", np.zeros(weights.shape[-1]))
    for name in kernel.fused:
        norm = graph.layer(name)
        if isinstance(norm, BatchNorm):
            p = params[name]
            scale = p["gamma"] / np.sqrt(p["var"] + norm.epsilon)
            weights = weights * scale
            bias = (bias - p["mean"]) * scale + p["beta"]
    assert isinstance(layer, Conv2d | Dense)
    return weights, bias


def _operands(graph: Graph, kernel: GemmKernel, held: Mapping, params: Mapping, hw: Hardware):
    """(a [g, M, K] values, b [g, K, N] values, bias in accumulator units [g, N], per-output
    scale [g, N] or scalar, the quantized weights for the reference, the layer)."""
    layer = graph.layer(kernel.name)
    x = held[layer.inputs[0]]
    if isinstance(layer, MatMul):
        y = held[layer.inputs[1]]
        b_vals = np.swapaxes(y.values, -1, -2) if layer.transpose_b else y.values
        batch = graph.shapes[kernel.name][:-2]
        a = np.broadcast_to(x.values, (*batch, *x.values.shape[-2:])).reshape(
            -1, kernel.m, kernel.k)
        b = np.broadcast_to(b_vals, (*batch, *b_vals.shape[-2:])).reshape(-1, kernel.k, kernel.n)
        scale = np.full((a.shape[0], kernel.n), x.scale * y.scale)
        return a, b, np.zeros((a.shape[0], kernel.n)), scale, (b_vals,), layer
    weights, bias = _folded(graph, kernel, params)
    w_dtype = hw.dtypes.weight
    if w_dtype.is_integer:
        columns = weights.reshape(-1, weights.shape[-1])  # max |w| per output, no |w| temporary
        w_scale = scale_for(np.maximum(columns.max(axis=0), -columns.min(axis=0)), w_dtype)
        w_vals = quantize(weights, w_scale, w_dtype)
        scale = x.scale * w_scale
        bias_acc = np.rint(bias / scale)
    else:
        w_vals = round_to(weights, w_dtype)
        scale = np.ones(weights.shape[-1])
        bias_acc = round_to(bias, DType.FP32)
    g = kernel.groups
    if isinstance(layer, Conv2d):
        # integer values up to 2**24 are exact in float32: half the bytes to gather
        values = x.values.astype(np.float32) if _float32_holds(x.dtype) else x.values
        a, b = im2col(values, layer, g), conv_weights(w_vals, g)
    else:
        a, b = x.values.reshape(1, -1, kernel.k), w_vals[None]
    return a, b, bias_acc.reshape(g, -1), scale.reshape(g, -1), (w_vals,), layer


def _float32_holds(dtype: DType) -> bool:
    """Whether float32 holds every value of the integer ``dtype`` exactly (|v| < 2**24)."""
    return dtype.is_integer and INT_MAX[dtype] < 2**24


def _reference_acc(layer, x: QTensor, quantized: tuple, bias_acc: np.ndarray,
                   kernel: GemmKernel, integer: bool) -> np.ndarray:
    """The same arithmetic by an independent path, as accumulators [g, M, N] (``integer``:
    both operands hold integers)."""
    g = kernel.groups
    if isinstance(layer, Conv2d):
        out = reference.conv2d(x.values, quantized[0], layer,  # [N, Ho, Wo, F]
                               integer=integer)
        out = out.reshape(-1, g, kernel.n).transpose(1, 0, 2)
    elif isinstance(layer, Dense):
        out = (x.values.reshape(-1, kernel.k) @ quantized[0])[None]
    else:
        out = np.matmul(x.values, quantized[0]).reshape(-1, kernel.m, kernel.n)
    return out + bias_acc[:, None, :]


def _gemm(graph: Graph, work: LayerSchedule, instructions: list[Instruction], held: dict,
          params: Mapping, fp: Mapping, hw: Hardware, helpers: Helpers
          ) -> tuple[QTensor, Check]:
    kernel = work.kernel
    assert isinstance(kernel, GemmKernel)
    a, b, bias_acc, scale, quantized, layer = _operands(graph, kernel, held, params, hw)
    reference_acc = helpers.beside.submit(
        _reference_acc, layer, held[layer.inputs[0]], quantized, bias_acc, kernel,
        hw.dtypes.input.is_integer and hw.dtypes.weight.is_integer)
    fault = ""
    try:
        outcome = run_gemm(instructions, a, b, bias_acc, hw.dtypes.accumulator,
                           _multiply(kernel, hw))
    except ProgramFault as exc:  # carry on with the reference values, and fail the check
        expected = reference_acc.result()
        fault = f"the Program does not execute: {exc}"
        outcome = GemmOutcome(expected, False)
    expected = reference_acc.result()
    if hw.dtypes.input.is_integer and hw.dtypes.weight.is_integer:
        ok = bool(np.array_equal(outcome.accumulators, expected))
        error = 0.0 if ok else float(np.abs(outcome.accumulators - expected).max(initial=0.0))
    else:
        bound = 2 * kernel.k * 2.0**-24 * np.matmul(np.abs(a), np.abs(b)) + 1e-300
        diff = np.abs(outcome.accumulators - expected)
        error = float(diff.max(initial=0.0))
        ok = bool(np.all(diff <= bound + 4 * np.abs(bias_acc[:, None, :]) * 2.0**-24))
    real = outcome.accumulators * scale[:, None, :]
    y = _to_layout(real, graph.shapes[kernel.name], kernel)
    if isinstance(layer, MatMul) and layer.scale != 1.0:
        y = y * layer.scale
    y = _activations(graph, kernel, y)
    out = _requantize(y, kernel.output, fp, hw.dtypes.input)
    ok = ok and not fault
    status = "pass" if ok and not outcome.overflow else "fail"
    limit = INT_MAX.get(hw.dtypes.accumulator)
    overflowed = f"{hw.dtypes.accumulator.value} accumulator overflow" + (
        " (int16 products take 30 bits: accumulate in int48)"
        if hw.dtypes.input is DType.INT16 and hw.dtypes.accumulator is DType.INT32 else
        f" of the bias alone: {float(np.abs(bias_acc).max(initial=0.0)):.3g} steps of input "
        "scale × weight scale, for inputs this small"
        if limit is not None and np.abs(bias_acc).max(initial=0.0) > limit else "")
    note = fault or (overflowed if outcome.overflow else (
        "" if ok else "the Program's result differs from the reference"))
    return out, Check(status=status, dtype=_dtype_label(hw), max_abs_error=error,
                      sqnr_db=sqnr_db(fp[kernel.output], out.real()), overflow=outcome.overflow,
                      note=note,
                      zero_activations=1.0 - np.count_nonzero(a) / a.size if a.size else 0.0)


def _one_blas_thread() -> AbstractContextManager:
    """BLAS on one thread (process-wide) while the check runs: array-sized products, where
    a BLAS thread pool costs more than it gains, and on a machine busy with other work
    (sweep workers, a test run) several times more — ResNet-50's int8 check measured
    1.3–3.6 s against 6.4–6.8 s with OpenBLAS's pool at a load of 2–3 on 2 cores. The
    check's own helper threads (`Helpers`) use the second core instead."""
    return _blas().limit(limits=1, user_api="blas")


@functools.cache
def _blas():
    """The loaded BLAS libraries (a threadpoolctl controller), found on first use."""
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def _multiply(kernel: GemmKernel, hw: Hardware) -> Multiply:
    """How the array multiplies this kernel's tiles: over compressed N:M weights when it
    skips them (`simaccel.sparse_hw.execution`), else densely (zero weights add 0)."""
    return nm_multiply(hw.sparsity.nm) if execution(kernel, hw).skips == "nm" \
        else dense_multiply


def _to_layout(acc: np.ndarray, shape: tuple[int, ...], kernel: GemmKernel) -> np.ndarray:
    """[g, M, N/g] → the layer's output tensor shape (channels grouped by group)."""
    g, m, n = acc.shape
    if kernel.op == "matmul":
        return acc.reshape(shape)
    return acc.transpose(1, 0, 2).reshape(shape)


def _activations(graph: Graph, kernel: GemmKernel, y: np.ndarray) -> np.ndarray:
    """The GEMM's own activation and every fused pointwise layer, in float."""
    layer = graph.layer(kernel.name)
    if getattr(layer, "activation", None):
        y = reference.ACTIVATIONS[layer.activation](y)
    for name in kernel.fused:
        op = graph.layer(name).op
        if op in reference.ACTIVATIONS:
            y = reference.ACTIVATIONS[op](y)
    return y


def _vector(graph: Graph, kernel: VectorKernel, held: dict, params: Mapping, fp: Mapping,
            hw: Hardware) -> tuple[QTensor, Check]:
    layers = [graph.layer(kernel.name), *(graph.layer(n) for n in kernel.fused)]
    ins = [held[t] for t in layers[0].inputs]
    dtype = hw.dtypes.input
    y = [x.real() for x in ins]
    for layer in layers:
        y = [reference.layer_forward(layer, y, params.get(layer.name, {}))]
    expected = y.pop()  # the dequantized inputs are freed here, before the check
    if all(_held_exactly(x, dtype) for x in ins) and _integers(expected):
        # index arithmetic (position ids from a mask's CumSum, decoder ids shifted from the
        # input's): integers in, integers out, held exactly as the token ids are
        out = _exact(expected)
    elif dtype.is_integer and all(layer.op in SCALE_PRESERVING for layer in layers) \
            and len(ins) == 1:
        vals = ins[0].values
        for layer in layers:
            vals = reference.layer_forward(layer, [vals], {})
        out = QTensor(vals, ins[0].scale, dtype)
    else:
        out = _requantize(expected, kernel.output, fp, dtype)
    with np.errstate(invalid="ignore"):  # masks hold ±inf: inf - inf
        return _vector_check(out, expected, fp, kernel, dtype, hw)


def _vector_check(out: QTensor, expected: np.ndarray, fp: Mapping, kernel: VectorKernel,
                  dtype: DType, hw: Hardware) -> tuple[QTensor, Check]:
    # whole-tensor temporaries kept to two (got, gap) besides masks: a vector kernel's check
    # is the numerics' largest working set on vector-heavy models (`pipeline.numerics_bytes`)
    got = out.real()
    gap = np.subtract(got, expected)
    np.abs(gap, out=gap)
    if np.isfinite(gap).all() and not has_masks(expected):  # ``same`` where the gap is 0
        same = gap == 0
    else:  # masks (±inf, −3.4e38) held as masks match whatever their rounding; NaN, NaN
        same = (got == expected) | (np.isnan(got) & np.isnan(expected)) \
            | ((got <= -MASK_MAGNITUDE) & (expected <= -MASK_MAGNITUDE)) \
            | ((got >= MASK_MAGNITUDE) & (expected >= MASK_MAGNITUDE))
        gap[same] = 0.0
    error = float(gap.max(initial=0.0))
    if dtype.is_integer:
        top = out.scale * INT_MAX[dtype]
        saturated = (expected > top) | (expected < -top)
        inside = float(gap.max(where=~saturated, initial=0.0))
        limit = out.scale * (0.5 + 1e-9) + 1e-12 if inside <= top else 0
        ok = bool(np.all((gap <= limit) | saturated))
    else:
        ok = bool(np.all(same | (gap <= np.abs(expected) * 2.0**-7 + 1e-30)))
    del gap, same  # before sqnr_db's own difference
    return out, Check(status="pass" if ok else "fail", dtype=_dtype_label(hw),
                      max_abs_error=error, sqnr_db=sqnr_db(fp[kernel.output], got),
                      note="" if ok else "vector result off by more than half a step")


def _exact(values: np.ndarray) -> QTensor:
    """Integers held exactly — token ids, masks and index arithmetic on them — as int32 at
    scale 1, never the type real tensors are quantized to."""
    return QTensor(values, 1.0, DType.INT32)


def _held_exactly(x: QTensor, dtype: DType) -> bool:
    """Whether ``x`` is held as `_exact` makes it (``dtype``: the type real tensors take)."""
    return x.dtype is DType.INT32 and x.scale == 1.0 and dtype is not DType.INT32


def _integers(x: np.ndarray) -> bool:
    """Whether every value of ``x`` is an integer that int32 holds."""
    return bool(np.isfinite(x).all() and (np.abs(x) <= INT_MAX[DType.INT32]).all()
                and (x == np.rint(x)).all())


def _dtype_label(hw: Hardware) -> str:
    d = hw.dtypes
    return f"{d.input.value}/{d.weight.value}/{d.accumulator.value}"
