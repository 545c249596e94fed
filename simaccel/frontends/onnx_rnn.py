"""ONNX LSTM, GRU and RNN nodes unrolled over time into what the hardware runs: one GEMM of
every step's input by W (M = sequence × batch), then per step a GEMM of the previous hidden
state by R and the gates as vector ops (slices, sigmoid, tanh, products, sums). Their MACs
are sequence × batch × gates·hidden × (input + hidden) per direction, as an analytic count
gives. Default activations only; no peepholes, clip, or per-sample sequence lengths."""

from __future__ import annotations

import numpy as np

from simaccel.frontends.onnx_graph import attrs
from simaccel.frontends.onnx_tensors import Importer, Tensor, emit, refuse
from simaccel.model import Add, Concat, Dense, Elementwise, Reshape

GATES = {"LSTM": 4, "GRU": 3, "RNN": 1}
DEFAULT_ACTIVATIONS = {"LSTM": ["Sigmoid", "Tanh", "Tanh"], "GRU": ["Sigmoid", "Tanh"],
                       "RNN": ["Tanh"]}


class _Step:
    """Emits the layers of one direction of one node, named after it."""

    def __init__(self, im: Importer, node, direction: int) -> None:
        self.im, self.node, self.d = im, node, direction
        self.base = f"{node.name or node.op_type}/{'fwd' if direction == 0 else 'bwd'}"

    def slice(self, x: str, shape: tuple[int, ...], lo: int, hi: int, hint: str):
        """Columns ``lo:hi`` of the last axis."""
        out = (*shape[:-1], hi - lo)
        axis = len(shape) - 1
        name = emit(self.im, f"{self.base}/{hint}", "move", "Slice", [x],
                     {1: np.array([lo]), 2: np.array([hi]), 3: np.array([axis])}, out, {})
        return name, out

    def act(self, op: str, x: str, hint: str) -> str:
        return self.im.add(Elementwise, f"{self.base}/{hint}", [x], op=op)

    def binary(self, op: str, a: str, b: str, hint: str) -> str:
        return self.im.add(Add, f"{self.base}/{hint}", [a, b], op=op)

    def dense(self, x: str, w: np.ndarray, bias: np.ndarray | None, hint: str) -> str:
        name = self.im.add(Dense, f"{self.base}/{hint}", [x], op="dense", units=int(w.shape[1]),
                           bias=bias is not None)
        self.im.weights[f"{name}.kernel"] = w
        if bias is not None:
            self.im.weights[f"{name}.bias"] = bias
        return name


def _check(im: Importer, node) -> dict:
    a = attrs(node)
    acts = [v.decode() if isinstance(v, bytes) else v for v in a.get("activations", [])]
    if acts and acts != DEFAULT_ACTIVATIONS[node.op_type] * (len(acts) // len(
            DEFAULT_ACTIVATIONS[node.op_type])):
        raise refuse(im, node, f"{node.op_type} with activations {acts} is not supported")
    if a.get("clip") is not None or a.get("input_forget", 0) or a.get("layout", 0):
        raise refuse(im, node, f"{node.op_type} clip, input_forget and layout=1 are not "
                      "supported")
    for i, what in ((1, "W"), (2, "R")):
        if im.const(node.input[i]) is None:
            raise refuse(im, node, f"{node.op_type} needs a constant {what}")
    if len(node.input) > 4 and node.input[4]:
        lens = im.const(node.input[4])
        if lens is None or np.any(lens != im.tensors[node.input[0]].shape[0]):
            raise refuse(im, node, "per-sample sequence lengths are not supported")
    if node.op_type == "LSTM" and len(node.input) > 7 and node.input[7] and np.any(
            im.const(node.input[7]) != 0):
        raise refuse(im, node, "LSTM peepholes are not supported")
    return a


def _initial(im: Importer, node, index: int, step: _Step, x_t: str, batch: int,
             hidden: int, hint: str) -> str:
    """The initial state of ``step``'s direction as a [batch, hidden] activation: a slice of
    an activation input, or a constant (zeros by default) carried as one."""
    name = node.input[index] if len(node.input) > index else ""
    if name and name in im.tensors:
        src = im.nchw(im.tensors[name], node.name)
        return emit(im, f"{step.base}/{hint}", "move", "Gather", [src.name],
                     {1: np.array(step.d)}, (batch, hidden), {})
    value = im.const(name)
    value = np.zeros((batch, hidden)) if value is None else value[step.d]
    shape = (batch, hidden)
    part, _ = step.slice(x_t, (batch, hidden * GATES[node.op_type]), 0, hidden, f"{hint}_like")
    return emit(im, f"{step.base}/{hint}", "eltwise", "Where", [part],
                 {0: np.zeros(shape), 2: value}, shape, {})


def _rnn(im: Importer, node) -> None:
    """LSTM, GRU or RNN, every direction, unrolled."""
    a = _check(im, node)
    x = im.nchw(im.get(node.input[0], node), node.name)
    steps, batch, _ = x.shape
    w, r = im.consts[node.input[1]], im.consts[node.input[2]]
    dirs, gh, hidden = w.shape[0], w.shape[1], r.shape[2]
    b = im.const(node.input[3]) if len(node.input) > 3 else None
    b = np.zeros((dirs, 2 * gh)) if b is None else b
    direction = a.get("direction", b"forward")
    direction = direction.decode() if isinstance(direction, bytes) else direction
    hs, cs = [], []
    for d in range(dirs):
        reverse = direction == "reverse" or d == 1
        step = _Step(im, node, d)
        h_seq, c_last = _direction(im, node, step, x, w[d], r[d], b[d], hidden, reverse,
                                   bool(a.get("linear_before_reset", 0)))
        hs.append(h_seq)
        cs.append(c_last)
    _outputs(im, node, hs, cs, steps, batch, hidden)


def _direction(im: Importer, node, step: _Step, x: Tensor, w, r, b, hidden: int,
               reverse: bool, lbr: bool):
    op = node.op_type
    steps, batch, _ = x.shape
    gates = GATES[op]
    gh = gates * hidden
    wb, rb = b[:gh], b[gh:]
    bias_x = wb + rb
    if op == "GRU":
        bias_x = np.concatenate([wb[:2 * hidden] + rb[:2 * hidden], wb[2 * hidden:] + (
            0 if lbr else rb[2 * hidden:])])
    xw = step.dense(x.name, w.T, bias_x, "x_gemm")  # [T, B, gates·H]
    order = range(steps - 1, -1, -1) if reverse else range(steps)
    h = c = None
    hs: dict[int, str] = {}
    for t in order:
        xt = emit(im, f"{step.base}/t{t}/x", "move", "Gather", [xw], {1: np.array(t)},
                   (batch, gh), {})
        if h is None:
            h = _initial(im, node, 5, step, xt, batch, hidden, "h0")
            if op == "LSTM":
                c = _initial(im, node, 6, step, xt, batch, hidden, "c0")
        if op == "LSTM":
            h, c = _lstm_step(step, t, xt, h, c, r, batch, hidden)
        elif op == "GRU":
            h = _gru_step(step, t, xt, h, r, rb, batch, hidden, lbr)
        else:
            rh = step.dense(h, r.T, None, f"t{t}/h_gemm")
            h = step.act("tanh", step.binary("add", xt, rh, f"t{t}/sum"), f"t{t}/h")
        hs[t] = h
    return [hs[t] for t in range(steps)], c


def _lstm_step(step: _Step, t: int, xt: str, h: str, c: str, r, batch: int, hidden: int):
    rh = step.dense(h, r.T, None, f"t{t}/h_gemm")
    g = step.binary("add", xt, rh, f"t{t}/gates")
    shape = (batch, 4 * hidden)
    sig_in, _ = step.slice(g, shape, 0, 3 * hidden, f"t{t}/iof")
    sig = step.act("sigmoid", sig_in, f"t{t}/iof_sigmoid")
    cand_in, _ = step.slice(g, shape, 3 * hidden, 4 * hidden, f"t{t}/c_in")
    cand = step.act("tanh", cand_in, f"t{t}/c_tanh")
    three = (batch, 3 * hidden)
    i, _ = step.slice(sig, three, 0, hidden, f"t{t}/i")
    o, _ = step.slice(sig, three, hidden, 2 * hidden, f"t{t}/o")
    f, _ = step.slice(sig, three, 2 * hidden, 3 * hidden, f"t{t}/f")
    kept = step.binary("mul", f, c, f"t{t}/f_c")
    new = step.binary("mul", i, cand, f"t{t}/i_c")
    c = step.binary("add", kept, new, f"t{t}/c")
    h = step.binary("mul", o, step.act("tanh", c, f"t{t}/c_out"), f"t{t}/h")
    return h, c


def _gru_step(step: _Step, t: int, xt: str, h: str, r, rb, batch: int, hidden: int,
              lbr: bool) -> str:
    shape = (batch, 3 * hidden)
    two = (batch, 2 * hidden)
    xzr, _ = step.slice(xt, shape, 0, 2 * hidden, f"t{t}/x_zr")
    xh, _ = step.slice(xt, shape, 2 * hidden, 3 * hidden, f"t{t}/x_h")
    rzr = step.dense(h, r[:2 * hidden].T, None, f"t{t}/h_gemm_zr")
    zr = step.act("sigmoid", step.binary("add", xzr, rzr, f"t{t}/zr_sum"), f"t{t}/zr")
    z, _ = step.slice(zr, two, 0, hidden, f"t{t}/z")
    rg, _ = step.slice(zr, two, hidden, 2 * hidden, f"t{t}/r")
    if lbr:
        rh = step.dense(h, r[2 * hidden:].T, rb[2 * hidden:], f"t{t}/h_gemm_h")
        gated = step.binary("mul", rg, rh, f"t{t}/r_h")
    else:
        gated = step.dense(step.binary("mul", rg, h, f"t{t}/r_h"), r[2 * hidden:].T, None,
                           f"t{t}/h_gemm_h")
    cand = step.act("tanh", step.binary("add", xh, gated, f"t{t}/h_sum"), f"t{t}/h_tanh")
    # h = (1 - z)·cand + z·h = cand + z·(h - cand)
    diff = emit(step.im, f"{step.base}/t{t}/h_minus", "eltwise", "Sub", [h, cand], {},
                 (batch, hidden), {})
    return step.binary("add", cand, step.binary("mul", z, diff, f"t{t}/z_d"), f"t{t}/h")


def _stack(im: Importer, node, parts: list[str], shape: tuple[int, ...], axis: int,
           hint: str) -> str:
    """``parts`` (each of ``shape``) reshaped with a new axis and concatenated along it."""
    names = []
    for i, p in enumerate(parts):
        new = (*shape[:axis], 1, *shape[axis:])
        names.append(im.add(Reshape, f"{node.name}/{hint}{i}", [p], op="reshape", shape=new))
    if len(names) == 1:
        return names[0]
    return im.add(Concat, f"{node.name}/{hint}", names, op="concat", axis=axis)


def _outputs(im: Importer, node, hs: list[list[str]], cs: list, steps: int, batch: int,
             hidden: int) -> None:
    dirs = len(hs)
    outs = list(node.output) + ["", "", ""]
    if outs[0]:  # Y [T, D, B, H]
        per_t = [_stack(im, node, [hs[d][t] for d in range(dirs)], (batch, hidden), 0,
                        f"y{t}_") for t in range(steps)]
        y = _stack(im, node, per_t, (dirs, batch, hidden), 0, "y")
        im.tensors[outs[0]] = Tensor(y, (steps, dirs, batch, hidden))
    last = [h[-1] if d == 0 or len(hs) == 1 else h[0] for d, h in enumerate(hs)]
    if dirs == 1 and node.op_type and _reverse(node):
        last = [hs[0][0]]
    if outs[1]:
        im.tensors[outs[1]] = Tensor(_stack(im, node, last, (batch, hidden), 0, "y_h"),
                                     (dirs, batch, hidden))
    if outs[2] and node.op_type == "LSTM":
        im.tensors[outs[2]] = Tensor(_stack(im, node, cs, (batch, hidden), 0, "y_c"),
                                     (dirs, batch, hidden))


def _reverse(node) -> bool:
    d = attrs(node).get("direction", b"forward")
    return (d.decode() if isinstance(d, bytes) else d) == "reverse"


RNN_OPS = {"LSTM": _rnn, "GRU": _rnn, "RNN": _rnn}
