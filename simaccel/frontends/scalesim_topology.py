"""Frontend for SCALE-Sim topology CSVs, conv or GEMM format, read as SCALE-Sim reads them.

Conv format: ``Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels,
Num Filter, Strides,`` (trailing comma). GEMM format: ``Layer name, M, N, K,``. The format is
told by the header.

Each row is an independent layer with its own input, as in SCALE-Sim. Its conventions are
kept so results compare line by line:

* the ifmap is already padded (no padding is added);
* the output size is ⌈(H − R)/s⌉ + 1, one more than a real conv when the stride does not
  divide H − R: the extra partial window is made explicit as bottom/right zero padding;
* a layer whose name contains ``DP`` is depthwise: one grouped conv with groups = channels
  (SCALE-Sim runs it as that many single-channel layers and sums them);
* a GEMM row M, N, K is a dense layer: an M × K input times a K × N weight.
"""

from __future__ import annotations

import csv
from pathlib import Path

from pydantic import ValidationError

from simaccel.errors import InputError
from simaccel.frontends.validation import raise_input_error
from simaccel.model import Conv2d, Dense, Model, TensorSpec

_CONV_COLUMNS = 8
_GEMM_COLUMNS = 4


def _cells(line: str) -> list[str]:
    cells = [c.strip() for c in next(csv.reader([line]))]
    while cells and cells[-1] == "":
        cells.pop()
    return cells


def _int(source: str, row: int, column: str, text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise InputError(source, f"row {row}.{column}", f"expected a whole number, got "
                         f"{text!r}") from None
    if value <= 0 or value > 1 << 20:
        raise InputError(source, f"row {row}.{column}", f"must be a positive integer at most "
                         f"2**20, got {value}")
    return value


def load_topology(path: Path) -> Model:
    """Load a SCALE-Sim topology CSV (conv or GEMM format) as a `Model`."""
    source = str(path)
    try:
        lines = [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
    except FileNotFoundError:
        raise InputError(source, "", "no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(source, "", f"cannot read: {exc}") from None
    if not lines:
        raise InputError(source, "", "file is empty")
    header = [h.lower() for h in _cells(lines[0])]
    gemm = len(header) >= 2 and header[1] == "m"
    if not gemm and not (len(header) >= _CONV_COLUMNS and "ifmap" in header[1]):
        raise InputError(source, "header", "not a SCALE-Sim topology: expected a conv header "
                         "(Layer name, IFMAP Height, ...) or a GEMM header (Layer name, M, N, "
                         "K)")
    inputs: list[TensorSpec] = []
    layers: list[Conv2d | Dense] = []
    for row, line in enumerate(lines[1:], start=1):
        cells = _cells(line)
        need = _GEMM_COLUMNS if gemm else _CONV_COLUMNS
        if len(cells) < need:
            raise InputError(source, f"row {row}", f"expected {need} columns, got {len(cells)}")
        name = cells[0]
        if any(layer.name == name for layer in layers):
            raise InputError(source, f"row {row}.name", f"duplicate layer name {name!r}")
        try:  # the spec models check what _int does not: name length, window <= 1024, ...
            if gemm:
                m, n, k = (_int(source, row, c, v) for c, v in zip("MNK", cells[1:4],
                                                                     strict=True))
                spec, layer = _gemm_layer(name, m, n, k)
            else:
                spec, layer = _conv_layer(source, row, name, cells)
        except ValidationError as exc:
            raise_input_error(source, exc, prefix=(f"row {row}",))
        inputs.append(spec)
        layers.append(layer)
    if not layers:
        raise InputError(source, "", "no layers after the header")
    return Model(name=path.stem, inputs=tuple(inputs), layers=tuple(layers),
                 outputs=tuple(layer.name for layer in layers), source=source,
                 description=f"SCALE-Sim topology {path.name}")


def _gemm_layer(name: str, m: int, n: int, k: int) -> tuple[TensorSpec, Dense]:
    spec = TensorSpec(name=f"{name}.ifmap", shape=(m, k))
    return spec, Dense(op="dense", name=name, inputs=(spec.name,), units=n, bias=False)


def _conv_layer(source: str, row: int, name: str, cells: list[str]
                ) -> tuple[TensorSpec, Conv2d]:
    columns = ("ifmap_height", "ifmap_width", "filter_height", "filter_width", "channels",
               "num_filter", "strides")
    h, w, r, s, c, n, stride = (_int(source, row, col, cells[i + 1])
                                for i, col in enumerate(columns))
    if r > h or s > w:
        raise InputError(source, f"row {row}.filter_height", f"filter {r}x{s} is larger than "
                         f"the ifmap {h}x{w}")
    pad_bottom = (stride - (h - r) % stride) % stride
    pad_right = (stride - (w - s) % stride) % stride
    depthwise = "DP" in name
    spec = TensorSpec(name=f"{name}.ifmap", shape=(1, h, w, c))
    layer = Conv2d(op="conv2d", name=name, inputs=(spec.name,), filters=n * c if depthwise
                   else n, kernel=(r, s), stride=(stride, stride),
                   padding=(0, pad_bottom, 0, pad_right), groups=c if depthwise else 1,
                   bias=False)
    return spec, layer
