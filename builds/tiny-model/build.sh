#!/usr/bin/env bash
# Makes the tiny tool-calling model letta-k8s/tiny-tool-caller (make_tiny_model.py beside this
# file) inside the vLLM CPU twin (its Python has numpy, safetensors and tokenizers at the locked
# versions), and packs its Hugging Face home as a tarball whose top folder is `huggingface/`
# (hub/models--letta-k8s--tiny-tool-caller/...): unpacked into the model-cache volume mounted at
# /var/cache/models, HF_HOME=/var/cache/models/huggingface and HF_HUB_OFFLINE=1 serve it by its id.
# Prints the tarball's path. Cached in ${LETTA_K8S_CACHE:-~/.cache/letta-k8s}/models, keyed by
# the script's hash and the twin's recipe hash: made once (a few seconds), then reused.
#   builds/tiny-model/build.sh      (needs docker and builds/images/build.sh vllm-cpu)
set -euo pipefail
DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$DIR/../cache-dir.sh"
IMAGE=vllm/vllm-openai-cpu:v0.32.0
log() { echo "[tiny-model] $*" >&2; }
die() { echo "[tiny-model] error: $*" >&2; exit 1; }

recipe=$(docker image inspect -f '{{index .Config.Labels "dev.letta-k8s.recipe"}}' "$IMAGE" 2>/dev/null) ||
  die "$IMAGE is missing: build it first (builds/images/build.sh vllm-cpu)"
key=$( (sha256sum "$DIR/make_tiny_model.py" | cut -d' ' -f1; echo "$recipe") | sha256sum | cut -c1-16)
out="$LETTA_K8S_CACHE/models/tiny-tool-caller-$key.tar.gz"
if [ ! -s "$out" ]; then
  mkdir -p "$LETTA_K8S_CACHE/models"
  work=$(mktemp -d "$LETTA_K8S_CACHE/models/work.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  started=$SECONDS
  docker run --rm --network none --user "$(id -u):$(id -g)" --read-only --tmpfs /tmp \
    -e HOME=/tmp -e USER=maker -e RAYON_NUM_THREADS=1 \
    -v "$DIR/make_tiny_model.py:/make_tiny_model.py:ro" -v "$work:/out" \
    --entrypoint python "$IMAGE" /make_tiny_model.py /out/huggingface > "$work/made.json" ||
    die "make_tiny_model.py failed"
  log "made $(cat "$work/made.json") in $((SECONDS - started)) s"
  chmod -R u=rwX,go=rX "$work/huggingface"
  tar -C "$work" --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -c huggingface |
    gzip -n > "$out.partial"
  mv "$out.partial" "$out"
fi
echo "$out"
