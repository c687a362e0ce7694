#!/usr/bin/env python3
"""Reference throughput: sentence-transformers all-MiniLM-L6-v2 on the CPU.

Encodes bench/embed/sentences.txt (the same sentences as the Go
BenchmarkEmbed) with torch limited to 1 and then 2 threads and prints
sentences per second for each (best of --repeat runs after a warm-up) and
sentences per CPU-second (mean over the runs, all threads counted).

    pip install sentence-transformers
    python3 bench/embed/ref.py [--model DIR] [--repeat 5] [--threads 1,2]
"""
import argparse
import os
import time

import torch
from sentence_transformers import SentenceTransformer


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    models = os.environ.get("OUTCROP_MODELS_DIR") or os.path.join(
        os.environ.get("XDG_DATA_HOME", os.path.expanduser("~/.local/share")), "outcrop", "models")
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=os.path.join(models, "all-MiniLM-L6-v2"))
    ap.add_argument("--sentences", default=os.path.join(here, "sentences.txt"))
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--batch-size", type=int, default=32)
    args = ap.parse_args()

    with open(args.sentences, encoding="utf-8") as f:
        sentences = [line.rstrip("\n") for line in f if line.strip()]
    model = SentenceTransformer(args.model, device="cpu")
    for threads in [int(t) for t in args.threads.split(",")]:
        torch.set_num_threads(threads)
        with torch.inference_mode():
            model.encode(sentences, batch_size=args.batch_size)  # warm-up
            best = float("inf")
            c0 = time.process_time()
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                model.encode(sentences, batch_size=args.batch_size)
                best = min(best, time.perf_counter() - t0)
            cpu = (time.process_time() - c0) / args.repeat
        # CPU time (all threads) is steadier than wall time on a shared machine.
        print(f"sentence-transformers threads={threads} sentences={len(sentences)} "
              f"best={best * 1000:.1f}ms sentences/s={len(sentences) / best:.1f} "
              f"sentences/cpu-s={len(sentences) / cpu:.1f}")


if __name__ == "__main__":
    main()
