"""Frontend for SCALE-Sim topology CSVs, conv or GEMM format, read as SCALE-Sim reads them.

Conv format: ``Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels,
Num Filter, Strides,`` (trailing comma), or SCALE-Sim v2's nine columns with ``Stride height,
Stride width`` in place of ``Strides``. GEMM format: ``Layer name, M, N, K,``. The format is
told by the header, and every column is read by its header name: a column simaccel does not
know, or a row with more values than the header has columns, is refused (never dropped).

Each row is an independent layer with its own input, as in SCALE-Sim. Its conventions are
kept so results compare line by line:

* the ifmap is already padded (no padding is added);
* the output size is ⌈(H − R)/s⌉ + 1, one more than a real conv when the stride does not
  divide H − R: the extra partial window is made explicit as bottom/right zero padding;
* a layer whose name contains ``DP`` is depthwise: one grouped conv with groups = channels
  (SCALE-Sim runs it as that many single-channel layers and sums them);
* a GEMM row M, N, K is a dense layer: an M × K input times a K × N weight;
* the rows run one after another in file order, as SCALE-Sim runs and reports them
  (`Model.sequential`);
* each row's input tensor is named ``<layer>.ifmap``; when that name is taken by a layer of
  the file, ``_`` is appended until it is free.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

from pydantic import ValidationError

from simaccel.errors import InputError
from simaccel.frontends.files import read_text
from simaccel.frontends.validation import raise_input_error
from simaccel.model import Conv2d, Dense, Model, TensorSpec

#: header name (lower case, spaces collapsed) -> field, per format
_CONV_HEADER = {"ifmap height": "ifmap_height", "ifmap width": "ifmap_width",
                "filter height": "filter_height", "filter width": "filter_width",
                "channels": "channels", "num filter": "num_filter", "strides": "strides",
                "stride height": "stride_height", "stride width": "stride_width"}
_GEMM_HEADER = {"m": "M", "n": "N", "k": "K"}
_CONV_NEEDS = ("ifmap_height", "ifmap_width", "filter_height", "filter_width", "channels",
               "num_filter")


def _cells(line: str) -> list[str]:
    cells = [c.strip() for c in next(csv.reader([line]))]
    while cells and cells[-1] == "":
        cells.pop()
    return cells


#: a whole number as SCALE-Sim's topologies write it: ASCII digits, perhaps a sign
_WHOLE = re.compile(r"[+-]?[0-9]+", re.ASCII)


def _int(source: str, row: int, column: str, text: str) -> int:
    """A cell as a whole number written in ASCII digits only (Python's int() would also
    read ``9_0`` as 90 and other scripts' digits)."""
    if not _WHOLE.fullmatch(text):
        raise InputError(source, f"row {row}.{column}", f"expected a whole number, got "
                         f"{text!r}")
    value = int(text)
    if value <= 0 or value > 1 << 20:
        raise InputError(source, f"row {row}.{column}", f"must be a positive integer at most "
                         f"2**20, got {value}")
    return value


def _columns(source: str, header: list[str]) -> tuple[bool, list[str]]:
    """(GEMM format?, the field each column after the layer name holds), refusing a header
    that is neither format or has a column simaccel cannot read."""
    names = [" ".join(h.lower().split()) for h in header]
    gemm = len(names) >= 2 and names[1] == "m"
    known = _GEMM_HEADER if gemm else _CONV_HEADER
    if not gemm and not (len(names) >= 2 and "ifmap" in names[1]):
        raise InputError(source, "header", "not a SCALE-Sim topology: expected a conv header "
                         "(Layer name, IFMAP Height, ...) or a GEMM header (Layer name, M, N, "
                         "K)")
    fields = []
    for i, name in enumerate(names[1:], start=2):
        if name not in known:
            raise InputError(source, f"header.column {i}", f"{header[i - 1]!r} is not a "
                             f"column simaccel can read; expected: "
                             f"{', '.join(h.title() for h in known)}")
        if known[name] in fields:
            raise InputError(source, f"header.column {i}", f"{header[i - 1]!r} given twice")
        fields.append(known[name])
    need = list(_GEMM_HEADER.values()) if gemm else list(_CONV_NEEDS)
    strides = {"strides"} if "strides" in fields else {"stride_height", "stride_width"}
    if not gemm and ("strides" in fields) == bool({"stride_height", "stride_width"} & set(
            fields)):
        raise InputError(source, "header", "give either Strides or Stride height and Stride "
                         "width")
    missing = [f for f in need + ([] if gemm else sorted(strides)) if f not in fields]
    if missing:
        raise InputError(source, "header", f"missing column(s): {', '.join(missing)}")
    return gemm, fields


def load_topology(path: Path) -> Model:
    """Load a SCALE-Sim topology CSV (conv or GEMM format) as a `Model`."""
    source = str(path)
    lines = [ln for ln in read_text(path).splitlines() if ln.strip()]
    gemm, fields = _columns(source, _cells(lines[0]))
    rows = [_cells(line) for line in lines[1:]]
    names = [cells[0] if cells else "" for cells in rows]
    taken = set(names)
    inputs: list[TensorSpec] = []
    layers: list[Conv2d | Dense] = []
    for row, cells in enumerate(rows, start=1):
        if len(cells) != len(fields) + 1:
            raise InputError(source, f"row {row}", f"expected {len(fields) + 1} columns, got "
                             f"{len(cells)} (a value with no column in the header is never "
                             "dropped)")
        name = cells[0]
        if name in names[:row - 1]:
            raise InputError(source, f"row {row}.name", f"duplicate layer name {name!r}")
        values = {f: _int(source, row, f, v) for f, v in zip(fields, cells[1:], strict=True)}
        tensor = f"{name}.ifmap"
        while tensor in taken:  # a layer of the file is called <other layer>.ifmap
            tensor += "_"
        taken.add(tensor)
        try:  # the spec models check what _int does not: name length, window <= 1024, ...
            if gemm:
                spec, layer = _gemm_layer(name, tensor, values["M"], values["N"], values["K"])
            else:
                spec, layer = _conv_layer(source, row, name, tensor, values)
        except ValidationError as exc:
            raise_input_error(source, exc, prefix=(f"row {row}",))
        inputs.append(spec)
        layers.append(layer)
    if not layers:
        raise InputError(source, "", "no layers after the header")
    return Model(name=path.stem, inputs=tuple(inputs), layers=tuple(layers),
                 outputs=tuple(layer.name for layer in layers), source=source,
                 description=f"SCALE-Sim topology {path.name}", sequential=True)


def _gemm_layer(name: str, tensor: str, m: int, n: int, k: int) -> tuple[TensorSpec, Dense]:
    spec = TensorSpec(name=tensor, shape=(m, k))
    return spec, Dense(op="dense", name=name, inputs=(spec.name,), units=n, bias=False)


def _conv_layer(source: str, row: int, name: str, tensor: str, values: dict[str, int]
                ) -> tuple[TensorSpec, Conv2d]:
    h, w, r, s, c, n = (values[f] for f in _CONV_NEEDS)
    sh = values.get("stride_height", values.get("strides"))
    sw = values.get("stride_width", values.get("strides"))
    if r > h:
        raise InputError(source, f"row {row}.filter_height", f"filter height {r} is larger "
                         f"than the ifmap height {h}")
    if s > w:
        raise InputError(source, f"row {row}.filter_width", f"filter width {s} is larger "
                         f"than the ifmap width {w}")
    pad_bottom = (sh - (h - r) % sh) % sh
    pad_right = (sw - (w - s) % sw) % sw
    depthwise = "DP" in name
    spec = TensorSpec(name=tensor, shape=(1, h, w, c))
    layer = Conv2d(op="conv2d", name=name, inputs=(spec.name,), filters=n * c if depthwise
                   else n, kernel=(r, s), stride=(sh, sw),
                   padding=(0, pad_bottom, 0, pad_right), groups=c if depthwise else 1,
                   bias=False)
    return spec, layer
