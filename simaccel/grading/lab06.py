"""Lab 06's expected answers (training on the accelerator), from the training step simaccel
builds: the ``model`` (the digits CNN, or the MNIST CNN for the data-parallel exercise) at the
lab's ``batch``, on ``tpu_v1`` with bf16 operands (the lab's ``TPU``), or on
``tpu_v4_like_x8``'s ``chips`` chips.

Every figure comes from the simulator's step (its state tensors, its MACs, its all-reduces);
none is typed in.
"""

from __future__ import annotations

from simaccel.grading import exercise

#: The lab's training chip: tpu_v1 with bf16 operands and fp32 accumulators.
CHIP, PRECISION = "tpu_v1", "bf16"
SYSTEM = "tpu_v4_like_x8"


def _step(model, batch: int):
    from simaccel import load_hardware
    from simaccel.training import Optimizer
    from simaccel.training_run import simulate_step, training_hardware
    hw = training_hardware(load_hardware(CHIP), PRECISION)
    return simulate_step(model, hw, Optimizer.ADAM, batch=batch, trace=False).step, hw


@exercise("06.1", hint="three fp32 tensors the size of the weights and bias")
def adam_state_bytes(model, layer: str = "fc1") -> int:
    """Bytes of fp32 master weights and Adam moments ``layer`` keeps: its state tensor, which
    the step counts in activation (bf16) elements."""
    step, hw = _step(model, 1)
    return step.states[f"{layer}.state"] * hw.dtypes.input.bytes


@exercise("06.2", hint="every GEMM has a dW and a dX of its own size, but the image needs no "
                       "gradient")
def step_macs(model, batch: int) -> int:
    """MACs of one Adam training step of ``model`` at ``batch``."""
    return _step(model, batch)[0].macs


@exercise("06.3", hint="2(P − 1) ring steps, each a hop's latency plus 1/P of the bytes")
def weight_gradient_reduce_cycles(model, chips: int, batch: int,
                                  tensor: str = "fc1.kernel.grad") -> int:
    """Cycles the ring all-reduce of ``tensor`` holds the links in a data-parallel Adam step of
    ``model`` at global ``batch`` on ``chips`` chips of ``tpu_v4_like_x8``."""
    from simaccel import load_hardware
    from simaccel.training_parallel import simulate_data_parallel
    step = simulate_data_parallel(model, load_hardware(SYSTEM), chips, batch=batch,
                                  optimizer="adam")
    reduce = next(r for r in step.reduces if r.tensor == tensor)
    return reduce.end_cycle - reduce.start_cycle


@exercise("06.4", hint="which of a chip's compute and its all-reduces grows with the batch?")
def efficiency_with_double_batch(model, batch: int, chips: int = 8) -> str:
    """"rises" or "falls": the data-parallel scaling efficiency of ``model`` on ``chips``
    chips when the global batch doubles from ``batch``."""
    from simaccel import load_hardware
    from simaccel.training_parallel import scaling
    system = load_hardware(SYSTEM)
    efficiency = [scaling(model, system, (chips,), batch=b, optimizer="adam")[-1].efficiency
                  for b in (batch, 2 * batch)]
    return "rises" if efficiency[1] > efficiency[0] else "falls"
