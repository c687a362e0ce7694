#!/usr/bin/env python3
"""Generates the tokenizer golden files in this directory.

Run once from the repository root (needs `pip install tokenizers gguf`):

    python3 internal/engine/tokenizer/testdata/gen_golden.py

It writes:
  golden.json       strings, reference pre-tokenizer pieces per pre-type, and
                    reference ids from the Hugging Face `tokenizers` package
  bytebpe_vocab.json  a small byte-level BPE vocabulary trained here, used to
                    test the qwen2 / llama-bpe / gpt2 splitters end to end
  spm_vocab.json    a small SentencePiece-style (llama) vocabulary with byte
                    fallback, tokens/scores/types as GGUF stores them

SmolLM2 ids are produced only when the real model is present (the vocabulary
is read from the GGUF, the tokenizer is rebuilt as HuggingFaceTB's
tokenizer.json defines it: BPE + Digits(individual) + ByteLevel). The model
directory is $OUTCROP_MODELS_DIR, else
${XDG_DATA_HOME:-$HOME/.local/share}/outcrop/models.
"""
import inspect
import json
import os
import sys

from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

HERE = os.path.dirname(os.path.abspath(__file__))

STRINGS = [
    "",
    " ",
    "  ",
    "Hello world",
    "Hello, world!",
    " leading space",
    "trailing space ",
    "  two leading spaces",
    "\n",
    "\n\n\n",
    "a\n\n\nb",
    "\t",
    "\tindented\n\t\tmore",
    "   \n  x",
    "line1\r\nline2\r\n",
    "I'm you're we've they'll she'd it's I'M DON'T We'Ve",
    "12345 1234567 3.14159 1,000,000",
    "abc123def 007",
    "x=1+2*3; y = x**2 // 4",
    "    def foo(self, a: int) -> None:\n        return {\"k\": [1, 2]}\n",
    "func main() {\n\tfmt.Println(\"hi\")\n}\n",
    "日本語のテキストです。",
    "中文测试，你好！世界",
    "한국어 텍스트",
    "emoji 😀👍🏽 family 👨‍👩‍👧 flag 🇫🇷",
    "Ünïcödé café naïve résumé",
    "ﬁ ligature and ｆｕｌｌｗｉｄｔｈ",
    "Ελληνικά Русский текст",
    "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n",
    "text<|endoftext|>more",
    "<|im_start|><|im_end|>",
    "<s>[INST] hi [/INST]</s>",
    "\u00a0nbsp\u00a0 x",
    "\u3000ideographic\u3000space",
    "trailing newline\n",
    "  \n\n  ",
    "mixed \t\n \t x",
    "'quoted' \"double\" `back`",
    "$$$ !!! ??? ... ---",
    "a'b's'll'",
    "٣٤٥ arabic digits ²³ superscripts ½ Ⅻ",
    "http://example.com/path?q=1&r=2#frag",
    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    "The quick brown fox jumps over the lazy dog. THE QUICK BROWN FOX!",
    "\x00 control \x1b[0m bell\x07",
    "  multiple   spaces   between   words  ",
    "(parenthesized) [bracketed] {braced}",
    "end.\n\nNew paragraph.\n",
    "tab\tseparated\tvalues\n1\t2\t3",
    "    ",
    "a  \n",
    "\n \n",
    "decomposed e\u0301 A\u030a n\u0303o and composed \u00e9",
]

# Pre-tokenizer regexes as the Hugging Face tokenizer.json files define them.
GPT2_RE = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"
LLAMA3_RE = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
QWEN2_RE = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"


def pretokenizer(pre):
    bl = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    if pre == "gpt2":
        return pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    if pre == "smollm":
        return pre_tokenizers.Sequence([
            pre_tokenizers.Digits(individual_digits=True),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
        ])
    if pre == "qwen2":
        return pre_tokenizers.Sequence([pre_tokenizers.Split(Regex(QWEN2_RE), behavior="isolated", invert=False), bl])
    if pre == "llama-bpe":
        return pre_tokenizers.Sequence([pre_tokenizers.Split(Regex(LLAMA3_RE), behavior="isolated", invert=False), bl])
    raise ValueError(pre)


def pieces(pre, s):
    return [s[a:b] for _, (a, b) in pretokenizer(pre).pre_tokenize_str(s)]


def byte_level_tokenizer(vocab, merges, pre, specials, ignore_merges=False):
    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges, ignore_merges=ignore_merges))
    if pre == "qwen2":
        tok.normalizer = normalizers.NFC()  # as in Qwen2's tokenizer.json
    tok.pre_tokenizer = pretokenizer(pre)
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in specials])
    return tok


def encode_both(tok):
    out = {"special": [], "plain": [], "decoded": []}
    for s in STRINGS:
        tok.encode_special_tokens = False
        ids = tok.encode(s, add_special_tokens=True).ids
        out["special"].append(ids)
        out["decoded"].append(tok.decode(ids, skip_special_tokens=False))
        tok.encode_special_tokens = True
        out["plain"].append(tok.encode(s, add_special_tokens=True).ids)
        tok.encode_special_tokens = False
    return out


def corpus():
    import this  # noqa: F401  (prints the Zen once; harmless)
    import codecs
    texts = [codecs.decode(this.s, "rot13")]
    import json as j, textwrap, string
    for mod in (j, textwrap, string):
        texts.append(inspect.getsource(mod))
    texts += STRINGS * 3
    return texts


def train_bytebpe():
    tok = Tokenizer(models.BPE())
    # No regex split while training, so merges cross the boundaries the
    # splitters under test must respect.
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    tr = trainers.BpeTrainer(vocab_size=1200, min_frequency=2, show_progress=False,
                             initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                             special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>"])
    lines = []
    for t in corpus():
        lines += t.split("\n\n")
    tok.train_from_iterator(lines, trainer=tr)
    m = json.loads(tok.to_str())["model"]
    vocab = m["vocab"]
    merges = [" ".join(x) if isinstance(x, list) else x for x in m["merges"]]
    tokens = [None] * len(vocab)
    for k, v in vocab.items():
        tokens[v] = k
    return tokens, merges


def train_spm():
    tok = Tokenizer(models.BPE(byte_fallback=True, unk_token="<unk>", fuse_unk=True))
    tok.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
    tr = trainers.BpeTrainer(vocab_size=900, min_frequency=2, show_progress=False,
                             special_tokens=["<unk>", "<s>", "</s>"] + ["<0x%02X>" % b for b in range(256)],
                             limit_alphabet=200)
    lines = []
    for t in corpus():
        lines += t.split("\n\n")
    tok.train_from_iterator(lines, trainer=tr)
    vocab = json.loads(tok.to_str())["model"]["vocab"]
    tokens = [None] * len(vocab)
    for k, v in vocab.items():
        tokens[v] = k
    # GGUF llama vocabularies: score = -id for normal pieces; types as GGUF.
    types, scores = [], []
    for i, t in enumerate(tokens):
        if t == "<unk>":
            types.append(2)
        elif t in ("<s>", "</s>"):
            types.append(3)
        elif t.startswith("<0x") and len(t) == 6:
            types.append(6)
        else:
            types.append(1)
        scores.append(0.0 if types[-1] != 1 else -float(i))
    return tokens, scores, types


def spm_tokenizer(tokens, scores, types):
    # Merges the way transformers' SentencePiece converter derives them: every
    # split of a piece into two pieces, ranked by the merged piece's score.
    vocab = {t: i for i, t in enumerate(tokens)}
    merges = []
    for i, t in enumerate(tokens):
        if types[i] != 1:
            continue
        for k in range(1, len(t)):
            l, r = t[:k], t[k:]
            if l in vocab and r in vocab and types[vocab[l]] == 1 and types[vocab[r]] == 1:
                merges.append((scores[i], vocab[l], vocab[r], l, r))
    merges.sort(key=lambda m: (-m[0], m[1], m[2]))
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[(m[3], m[4]) for m in merges],
                               byte_fallback=True, unk_token="<unk>", fuse_unk=True))
    tok.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
    tok.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(),
                                     decoders.Strip(" ", 1, 0)])
    tok.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in ("<unk>", "<s>", "</s>")])
    from tokenizers.processors import TemplateProcessing
    tok.post_processor = TemplateProcessing(single="<s> $A", special_tokens=[("<s>", 1)])
    return tok


def smollm2(path):
    import gguf
    r = gguf.GGUFReader(path)

    def arr(key):
        f = r.fields[key]
        return [bytes(f.parts[i]).decode("utf-8") for i in f.data]

    def ints(key):
        f = r.fields[key]
        return [int(f.parts[i][0]) for i in f.data]

    tokens = arr("tokenizer.ggml.tokens")
    types = ints("tokenizer.ggml.token_type")
    merges = arr("tokenizer.ggml.merges")
    vocab = {t: i for i, t in enumerate(tokens)}
    specials = [t for t, ty in zip(tokens, types) if ty in (3, 4)]
    tok = byte_level_tokenizer(vocab, [tuple(m.split(" ", 1)) for m in merges], "smollm", specials)
    return encode_both(tok)


def main():
    golden = {"strings": STRINGS, "pretok": {}}
    for pre in ("gpt2", "smollm", "qwen2", "llama-bpe"):
        golden["pretok"][pre] = [pieces(pre, s) for s in STRINGS]

    tokens, merges = train_bytebpe()
    with open(os.path.join(HERE, "bytebpe_vocab.json"), "w") as f:
        json.dump({"tokens": tokens, "merges": merges}, f, ensure_ascii=False)
    vocab = {t: i for i, t in enumerate(tokens)}
    mp = [tuple(m.split(" ", 1)) for m in merges]
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    golden["bytebpe"] = {}
    for pre, ignore in (("gpt2", False), ("smollm", False), ("qwen2", False), ("llama-bpe", True)):
        golden["bytebpe"][pre] = encode_both(byte_level_tokenizer(vocab, mp, pre, specials, ignore))

    tokens, scores, types = train_spm()
    with open(os.path.join(HERE, "spm_vocab.json"), "w") as f:
        json.dump({"tokens": tokens, "scores": scores, "types": types}, f, ensure_ascii=False)
    golden["spm"] = encode_both(spm_tokenizer(tokens, scores, types))

    models_dir = os.environ.get("OUTCROP_MODELS_DIR") or os.path.join(
        os.environ.get("XDG_DATA_HOME") or os.path.expanduser("~/.local/share"), "outcrop", "models")
    path = os.path.join(models_dir, "SmolLM2-135M-Instruct.Q4_1.gguf")
    if os.path.exists(path):
        golden["smollm2"] = smollm2(path)
    else:
        print("warning: %s absent; SmolLM2 goldens not written" % path, file=sys.stderr)

    with open(os.path.join(HERE, "golden.json"), "w") as f:
        json.dump(golden, f, ensure_ascii=False, indent=0)


if __name__ == "__main__":
    main()
