"""Writes smollm2_golden.json: prompt token ids and the first 32 greedy
tokens of SmolLM2-135M-Instruct (Q4_1 GGUF) for three chat prompts, as
computed by llama.cpp through llama-cpp-python.

Run once, from this directory, with the default model fetched
(scripts/fetch-models.sh):

    python3 -m venv /tmp/venv && /tmp/venv/bin/pip install llama-cpp-python==0.3.36
    /tmp/venv/bin/python gen_golden.py [path/to/SmolLM2-135M-Instruct.Q4_1.gguf]

(pip builds llama.cpp from the sdist; that takes 15-40 minutes on 2 cores.)
"""
import json
import os
import sys

import numpy as np
from llama_cpp import Llama, __version__

USERS = [
    "What is the capital of France?",
    "Write a haiku about the sea.",
    "List three colors.",
]
STEPS = 32


def chatml(user):
    # SmolLM2's chat template with its default system prompt and
    # add_generation_prompt=True (see real_test.go chatML).
    return ("<|im_start|>system\nYou are a helpful AI assistant named SmolLM, "
            "trained by Hugging Face<|im_end|>\n<|im_start|>user\n" + user +
            "<|im_end|>\n<|im_start|>assistant\n")


def default_model():
    d = os.environ.get("OUTCROP_MODELS_DIR") or os.path.join(
        os.environ.get("XDG_DATA_HOME") or os.path.expanduser("~/.local/share"),
        "outcrop", "models")
    return os.path.join(d, "SmolLM2-135M-Instruct.Q4_1.gguf")


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else default_model()
    llm = Llama(model_path=path, n_ctx=512, n_threads=2, n_batch=512,
                logits_all=True, verbose=False)
    out = {"model": os.path.basename(path),
           "source": "llama.cpp via llama-cpp-python " + __version__,
           "prompts": []}
    for user in USERS:
        prompt = llm.tokenize(chatml(user).encode(), add_bos=False, special=True)
        llm.reset()
        llm.eval(prompt)
        greedy, top = [], []
        for step in range(STEPS):
            logits = np.array(llm.scores[llm.n_tokens - 1])
            tok = int(np.argmax(logits))
            order = np.argsort(-logits)[:2]
            top.append([[int(i), round(float(logits[i]), 4)] for i in order])
            greedy.append(tok)
            if tok == llm.token_eos():
                break
            llm.eval([tok])
        out["prompts"].append({
            "user": user,
            "prompt_tokens": [int(t) for t in prompt],
            "greedy_tokens": greedy,
            "top2_logits": top,
            "text": llm.detokenize(greedy).decode("utf-8", "replace"),
        })
    with open("smollm2_golden.json", "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
