"""Generate golden dequantization vectors for the tensor package tests.

Random blocks of each type are decoded with gguf-py's independent numpy
implementation of ggml's dequantizers (PyPI package gguf==0.17.1), and the
encoded bytes plus the expected float32 values are written to golden.json.

Run once from this directory:

    python3 -m venv /tmp/ggufenv && /tmp/ggufenv/bin/pip install gguf==0.17.1
    /tmp/ggufenv/bin/python gen_golden.py

Q8_1 and Q8_K are not covered here (gguf-py has no dequantizer for them);
their golden tests are built by hand in golden_test.go.
"""
import json

import numpy as np
from gguf.constants import GGML_QUANT_SIZES, GGMLQuantizationType as T
from gguf.quants import dequantize

rng = np.random.default_rng(20240601)


def half(v):
    return np.array([v], dtype=np.float16).view(np.uint8)


# Offsets of the f16 scale fields in each block, which must hold sane values
# instead of random bits (which could be NaN or Inf).
SCALES = {
    T.Q4_0: [0], T.Q4_1: [0, 2], T.Q5_0: [0], T.Q5_1: [0, 2], T.Q8_0: [0],
    T.Q4_K: [0, 2], T.Q5_K: [0, 2], T.Q6_K: [208],
}

cases = []
for t in [T.F32, T.F16, T.BF16, T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1, T.Q8_0,
          T.Q4_K, T.Q5_K, T.Q6_K]:
    bs, bb = GGML_QUANT_SIZES[t]
    nblocks = 64 if bs == 1 else 2
    if t == T.F32:
        raw = rng.standard_normal(nblocks).astype(np.float32).view(np.uint8)
    elif t == T.F16:
        raw = rng.standard_normal(nblocks).astype(np.float16).view(np.uint8)
    elif t == T.BF16:
        f = rng.standard_normal(nblocks).astype(np.float32).view(np.uint32)
        raw = (f >> 16).astype(np.uint16).view(np.uint8)
    else:
        raw = rng.integers(0, 256, size=nblocks * bb, dtype=np.uint8)
        for b in range(nblocks):
            for off in SCALES[t]:
                raw[b * bb + off: b * bb + off + 2] = half(rng.uniform(-0.5, 0.5))
    vals = dequantize(raw, t).astype(np.float32).reshape(-1)
    cases.append({
        "type": t.name,
        "id": int(t.value),
        "data": bytes(raw).hex(),
        "values": [float(v) for v in vals],
    })

with open("golden.json", "w") as f:
    json.dump(cases, f, indent=0)
    f.write("\n")
