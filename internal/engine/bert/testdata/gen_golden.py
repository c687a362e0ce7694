#!/usr/bin/env python3
"""Generate golden.json: sentence-transformers embeddings of a fixed set of
texts with all-MiniLM-L6-v2, rounded to 6 decimals.

Run once from internal/engine/bert with the model fetched by
scripts/fetch-models.sh (sentence-transformers pulls torch from PyPI):

    pip install sentence-transformers
    HF_HUB_OFFLINE=1 python3 testdata/gen_golden.py [MODEL_DIR]

MODEL_DIR defaults to $OUTCROP_MODELS_DIR/all-MiniLM-L6-v2 or
~/.local/share/outcrop/models/all-MiniLM-L6-v2.
"""
import json
import os
import sys

import sentence_transformers
from sentence_transformers import SentenceTransformer

LONG = ("Retrieval-augmented generation combines a search step with a language model. "
        "The retriever ranks passages by cosine similarity between embeddings, and the "
        "best passages are inserted into the prompt so that answers cite their sources. ") * 8

TEXTS = [
    "",
    " ",
    "Hello, world!",
    "The cat sat on the mat.",
    "A man is playing a guitar on the street corner.",
    "How do I reset my password?",
    "Photosynthesis converts light energy into chemical energy stored in glucose.",
    "Café naïve résumé coöperate façade Ångström",
    "我爱北京天安门。中文字符测试",
    "日本語のテキスト、ひらがなとカタカナ",
    "한국어 텍스트 안녕하세요",
    "Emoji: 😀🎉👍🏽 🥲 and 🇫🇷 flags",
    "Punctuation!!! ??? ... --- (parens) [brackets] {braces} @#$%^&*",
    "URLs: https://example.com/path?q=1&x=y#frag and me@example.org",
    "supercalifragilisticexpialidocious " + "a" * 120,
    "tabs\tand\nnewlines\r\nand\u00a0nbsp",
    "Русский текст и العربية نص",
    LONG,                      # well over 256 tokens: truncated
    "word " * 300,             # 300 words: truncated
    "The quarterly report shows revenue growth of twelve percent compared to last year, "
    "driven by strong demand in the cloud segment and lower operating costs.",
]


def main():
    d = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.environ.get("OUTCROP_MODELS_DIR", os.path.expanduser("~/.local/share/outcrop/models")),
        "all-MiniLM-L6-v2")
    model = SentenceTransformer(d, device="cpu")
    emb = model.encode(TEXTS, batch_size=8, convert_to_numpy=True)
    ntok = [len(model.tokenize([t])["input_ids"][0]) for t in TEXTS]
    out = {
        "generator": "sentence-transformers " + sentence_transformers.__version__,
        "max_seq_length": model.max_seq_length,
        "cases": [{"text": t, "tokens": n, "embedding": [round(float(v), 6) for v in e]}
                  for t, n, e in zip(TEXTS, ntok, emb)],
    }
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden.json"), "w") as f:
        json.dump(out, f, ensure_ascii=True, separators=(",", ":"))
        f.write("\n")


if __name__ == "__main__":
    main()
