"""Straightforward numpy forward pass of a llama/qwen2 GGUF (float32
weights dequantized with the gguf package), for cross-checking the Go
engine. Imported by gen_golden.py; run directly to print the top logits of
a token sequence:

    python3 numpy_ref.py MODEL.gguf 1 2 3
"""
import sys

import numpy as np
import gguf


class Model:
    def __init__(self, path):
        r = gguf.GGUFReader(path)
        self.r = r
        f = {k: v.contents() for k, v in r.fields.items()
             if not k.startswith("tokenizer.ggml.")}
        a = f["general.architecture"]
        self.arch = a
        self.layers = f[a + ".block_count"]
        self.dim = f[a + ".embedding_length"]
        self.heads = f[a + ".attention.head_count"]
        self.kv_heads = f.get(a + ".attention.head_count_kv", self.heads)
        self.hd = self.dim // self.heads
        self.eps = f.get(a + ".attention.layer_norm_rms_epsilon", 1e-5)
        self.base = f.get(a + ".rope.freq_base", 10000.0)
        self.neox = a == "qwen2"
        self.t = {}
        self.quant_act = False
        self.types = {t.name: t.tensor_type.name for t in r.tensors}
        for t in r.tensors:
            w = gguf.quants.dequantize(t.data, t.tensor_type)
            shape = [int(d) for d in reversed(t.shape)]
            self.t[t.name] = np.asarray(w, dtype=np.float32).reshape(shape)

    def mm(self, x, name):
        """x @ W.T, with x quantized to 8 bits per 32-element block first
        when W is block-quantized (as ggml and the Go engine do)."""
        w = self.t64[name]
        if self.quant_act and self.types[name] not in ("F32", "F16", "BF16"):
            xb = x.reshape(x.shape[0], -1, 32)
            d = np.abs(xb).max(-1, keepdims=True) / 127
            q = np.round(np.divide(xb, d, out=np.zeros_like(xb), where=d > 0))
            x = (q * d).reshape(x.shape)
        return x @ w.T

    def norm(self, x, w):
        return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + self.eps) * w

    def rope(self, x, pos):
        # x: (n, heads, hd)
        hd = self.hd
        inv = self.base ** (-np.arange(0, hd, 2, dtype=np.float64) / hd)
        ang = np.outer(pos, inv)  # (n, hd/2)
        cos, sin = np.cos(ang)[:, None, :], np.sin(ang)[:, None, :]
        if self.neox:
            a, b = x[..., : hd // 2], x[..., hd // 2:]
        else:
            a, b = x[..., 0::2], x[..., 1::2]
        ra, rb = a * cos - b * sin, a * sin + b * cos
        out = np.empty_like(x)
        if self.neox:
            out[..., : hd // 2], out[..., hd // 2:] = ra, rb
        else:
            out[..., 0::2], out[..., 1::2] = ra, rb
        return out

    def logits(self, tokens):
        """Logits of every position of tokens (float64 math)."""
        t = {k: v.astype(np.float64) for k, v in self.t.items()} if not hasattr(self, "t64") else self.t64
        self.t64 = t
        n = len(tokens)
        pos = np.arange(n)
        x = t["token_embd.weight"][tokens]
        g = self.heads // self.kv_heads
        mask = np.triu(np.full((n, n), -np.inf), 1)
        for l in range(self.layers):
            p = "blk.%d." % l
            h = self.norm(x, t[p + "attn_norm.weight"])
            q = self.mm(h, p + "attn_q.weight")
            k = self.mm(h, p + "attn_k.weight")
            v = self.mm(h, p + "attn_v.weight")
            if p + "attn_q.bias" in t:
                q, k, v = q + t[p + "attn_q.bias"], k + t[p + "attn_k.bias"], v + t[p + "attn_v.bias"]
            q = self.rope(q.reshape(n, self.heads, self.hd), pos)
            k = self.rope(k.reshape(n, self.kv_heads, self.hd), pos)
            v = v.reshape(n, self.kv_heads, self.hd)
            k = np.repeat(k, g, axis=1)
            v = np.repeat(v, g, axis=1)
            s = np.einsum("ihd,jhd->hij", q, k) / np.sqrt(self.hd) + mask
            s = np.exp(s - s.max(-1, keepdims=True))
            s /= s.sum(-1, keepdims=True)
            o = np.einsum("hij,jhd->ihd", s, v).reshape(n, -1)
            x = x + self.mm(o, p + "attn_output.weight")
            h = self.norm(x, t[p + "ffn_norm.weight"])
            gt = self.mm(h, p + "ffn_gate.weight")
            up = self.mm(h, p + "ffn_up.weight")
            x = x + self.mm(gt / (1 + np.exp(-gt)) * up, p + "ffn_down.weight")
        h = self.norm(x, t["output_norm.weight"])
        return self.mm(h, "output.weight" if "output.weight" in t else "token_embd.weight")


if __name__ == "__main__":
    m = Model(sys.argv[1])
    m.quant_act = True
    toks = [int(a) for a in sys.argv[2:]]
    lg = m.logits(toks)[-1]
    top = np.argsort(-lg)[:5]
    print([(int(i), float(lg[i])) for i in top])
