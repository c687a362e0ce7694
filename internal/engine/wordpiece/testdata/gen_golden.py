#!/usr/bin/env python3
"""Generate golden.json: token ids from Hugging Face `tokenizers` for a fixed
set of strings, using the all-MiniLM-L6-v2 tokenizer.json.

Run once from internal/engine/wordpiece with the model fetched by
scripts/fetch-models.sh:

    pip install tokenizers
    python3 testdata/gen_golden.py [MODEL_DIR]

MODEL_DIR defaults to $OUTCROP_MODELS_DIR/all-MiniLM-L6-v2 or
~/.local/share/outcrop/models/all-MiniLM-L6-v2. Ids include [CLS] and [SEP]
and are not truncated (the Go test checks truncation on prefixes).
"""
import json
import os
import sys

from tokenizers import Tokenizer

CASES = [
    "",
    "   \t\n  ",
    "Hello, world!",
    "The quick brown fox jumps over the lazy dog.",
    "UPPER lower MiXeD CaSe",
    "Café naïve résumé coöperate façade Ångström",
    "Ünïcödé àccénts: crème brûlée, jalapeño, Œuvre, ß, İstanbul",
    "e\u0301 combining acute, a\u0308 combining diaeresis",
    "我爱北京天安门。中文字符测试",
    "日本語のテキスト、ひらがなとカタカナ",
    "한국어 텍스트 안녕하세요",
    "Emoji: 😀🎉👍🏽 🥲 🫠 ❤️ and 🇫🇷 flags",
    "Punctuation!!! ??? ... --- (parens) [brackets] {braces} <angle> @#$%^&*_+=|\\~`",
    "“Smart quotes” ‘single’ — em dash – en dash … ellipsis",
    "URLs: https://example.com/path?q=1&x=y#frag and me@example.org",
    "Numbers 3.14159, 1,000,000 and 42nd 2023-10-01",
    "supercalifragilisticexpialidocious antidisestablishmentarianism",
    "a" * 100,
    "b" * 101,
    "xyz" * 40 + " tail",
    "tabs\tand\nnewlines\r\nand\u00a0nbsp\u2003emspace\u3000ideographic",
    "zero\u200bwidth\u200djoiner\ufeffbom\u00adsoft",
    "control\x00\x01\x07\x1f\x7f\x85chars\ufffdreplacement",
    "Greek: Αλφάβητο ελληνικά; question\u037e",
    "Русский текст, ЁЛКИ",
    "العربية نص",
    "हिन्दी पाठ",
    "ﬁne ﬂow ligatures, ＦＵＬＬＷＩＤＴＨ ｔｅｘｔ！",
    "Mathematical ∑ ∫ √ ∞ ≈ ≠ ≤ ≥ symbols ° ± × ÷",
    "private\ue000use and unassigned\U000e0001tag \U0010ffff",
    "CJK compat 丽 and ext B 𠀀 and radicals ⺀",
    "don't won't I'm O'Neil rock'n'roll",
    "word##piece ## [CLS] [SEP] [UNK] [MASK]",
    "Sentence embeddings map text to dense vectors for semantic search.",
]


def main():
    d = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.environ.get("OUTCROP_MODELS_DIR", os.path.expanduser("~/.local/share/outcrop/models")),
        "all-MiniLM-L6-v2")
    tok = Tokenizer.from_file(os.path.join(d, "tokenizer.json"))
    tok.no_truncation()
    tok.no_padding()
    out = [{"text": t, "ids": tok.encode(t).ids} for t in CASES]
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden.json"), "w") as f:
        json.dump({"generator": "tokenizers " + __import__("tokenizers").__version__, "cases": out}, f, ensure_ascii=True, indent=0)
        f.write("\n")


if __name__ == "__main__":
    main()
