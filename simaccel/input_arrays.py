"""What a model input array (``simulate(inputs=...)``, ``simaccel simulate --input``) and a
NumPy file must be, said once for the API and the command line.

An input is real numbers (integers, booleans as NumPy's 0/1, floats; never text, never
complex: the imaginary part would be dropped), each finite, of magnitude at most
`MAX_INPUT_MAGNITUDE` and, if nonzero, at least `simaccel.bounds.MIN_NORMAL` (never
subnormal, as no number of a JSON or TOML file may be). A ``.npy``/``.npz`` file starts with
NumPy's or zip's signature; anything else is "not a .npy or .npz file", before NumPy reads
it (NumPy would call a text file "pickled data").
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from simaccel.bounds import MIN_NORMAL

#: The largest magnitude of an input value: the largest finite IEEE 754 binary32 (fp32)
#: number, (2 − 2^−23)·2^127 ≈ 3.4028e38. The widest type the accelerator computes in is
#: fp32 (docs/formats.md, `[dtypes]`), so a larger value would become infinity there, and
#: its square (an SQNR's signal) would overflow float64 well before 1e300.
MAX_INPUT_MAGNITUDE = float(np.finfo(np.float32).max)

#: The first bytes of an .npy file (NumPy's format, ``numpy.lib.format.MAGIC_PREFIX``) and
#: of an .npz (a zip archive: every zip record signature starts "PK", PKWARE APPNOTE 4.3.6;
#: an empty .npz is only the end-of-central-directory record, "PK\x05\x06").
NPY_SIGNATURE, ZIP_SIGNATURE = b"\x93NUMPY", b"PK"


def array_problem(value: np.ndarray) -> str | None:
    """What is wrong with input array ``value`` (any shape), or None: not real numbers,
    NaN or infinity, a magnitude above `MAX_INPUT_MAGNITUDE`, or a subnormal value."""
    if value.dtype.kind not in "biuf":
        return f"dtype {value.dtype} is not real numbers"
    if value.dtype.kind != "f" or value.size == 0:  # a 64-bit integer is below 2^64
        return None
    if not np.isfinite(value).all():
        return "holds NaN" if np.isnan(value).any() else "holds infinity"
    magnitude = np.abs(value)
    largest = float(magnitude.max())
    if largest > MAX_INPUT_MAGNITUDE:
        return (f"holds {largest:.4g}: input values are at most {MAX_INPUT_MAGNITUDE:.4g} "
                "in magnitude (the largest fp32 number)")
    tiny = magnitude[magnitude != 0]
    if tiny.size and float(tiny.min()) < MIN_NORMAL:
        return (f"holds {float(tiny.min()):.4g}, a subnormal number: nonzero input values "
                f"are at least {MIN_NORMAL:.4g} in magnitude")
    return None


def numpy_file_problem(path: Path) -> str | None:
    """Why ``path`` is not a .npy or .npz file by its first bytes, or None (a file that
    cannot be opened is left to the reader, which names the OS error)."""
    try:
        with open(path, "rb") as file:
            head = file.read(len(NPY_SIGNATURE))
    except OSError:
        return None
    if not head:
        return "is empty: not a readable .npz or .npy file"
    if head.startswith(NPY_SIGNATURE) or head.startswith(ZIP_SIGNATURE):
        return None
    return "not a .npy or .npz file (it starts with neither NumPy's nor zip's signature)"
