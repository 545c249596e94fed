"""Numerics: the tiled schedule computes real results, checked against plain numpy.

`weights` draws or loads parameters, `reference` is the model's meaning in float64 numpy,
`quant` holds datatypes and quantization, `tiled` runs GEMM kernels tile by tile as the
hardware does, and `check` runs a whole model and compares.
"""
