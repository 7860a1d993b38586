#!/usr/bin/env bash
# Runs the vLLM CPU twin as a restricted pod would (uid 10001 with no passwd entry, read-only root,
# no capabilities, no privilege escalation, tmpfs /tmp and HOME, a /dev/shm of 1 GiB as the chart's
# memory-backed one (vLLM needs 160 MiB there: the 64 MiB default fails), the model cache as a volume)
# serving the tiny tool-calling model (builds/tiny-model), and checks what Letta uses:
#   GET /health 200; GET /v1/models lists the model with its max_model_len; POST
#   /v1/chat/completions with a send_message tool and tool_choice auto answers a tool call whose
#   arguments are JSON with a string "message" (a few tries: the weights are random); the same
#   streamed (SSE, ending in [DONE]); then a second start with the compile cache (VLLM_CACHE_ROOT
#   on the volume) kept. Prints the start-up times and the container's memory.
# Removes its container and files afterwards (the image, the model tarball and caches stay).
#   builds/images/verify-vllm-cpu.sh     (as root: docker; after build.sh vllm-cpu)
set -euo pipefail
IMAGES_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$IMAGES_DIR/../cache-dir.sh"
source "$IMAGES_DIR/lib.sh"
IMAGE=vllm/vllm-openai-cpu:v0.32.0
MODEL=letta-k8s/tiny-tool-caller
MAX_MODEL_LEN=16384
UID_=10001

tarball=$(bash "$IMAGES_DIR/../tiny-model/build.sh")
WORK=$(mktemp -d "$CACHE_ROOT/verify-vllm-cpu.XXXXXX")
NAME=letta-k8s-vllm-cpu-$$
cleanup() {
  docker rm -f -v "$NAME" >/dev/null 2>&1 || :
  rm -rf "$WORK"
}
trap cleanup EXIT
# The model-cache volume: the tarball's huggingface/ tree, and vLLM's own cache beside it.
mkdir -p "$WORK/models/vllm"
tar -C "$WORK/models" -xzf "$tarball"
chown -R "$UID_:$UID_" "$WORK/models"

start() {
  docker run -d --name "$NAME" --user "$UID_:$UID_" --read-only --cap-drop ALL \
    --security-opt no-new-privileges --tmpfs /tmp --tmpfs /home/vllm:mode=1777 --shm-size 1g \
    -e HOME=/home/vllm -e USER=vllm -e HF_HOME=/var/cache/models/huggingface \
    -e VLLM_CACHE_ROOT=/var/cache/models/vllm -e HF_HUB_OFFLINE=1 -e VLLM_CPU_KVCACHE_SPACE=1 \
    -v "$WORK/models:/var/cache/models" "$IMAGE" \
    "$MODEL" --host=0.0.0.0 --port=8000 --served-model-name="$MODEL" \
    --max-model-len="$MAX_MODEL_LEN" --dtype=float32 --enable-auto-tool-choice \
    --tool-call-parser=hermes --tool-strict-level parameter \
    --structured-outputs-config '{"backend":"xgrammar","disable_any_whitespace":true}' >/dev/null
  BASE="http://$(docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$NAME"):8000"
}

# wait_healthy LIMIT: seconds until GET /health answers 200.
wait_healthy() {
  local started=$SECONDS
  until [ "$(curl -s -o /dev/null -w '%{http_code}' "$BASE/health")" = 200 ]; do
    if [ "$(docker inspect -f '{{.State.Running}}' "$NAME")" != true ] || [ $((SECONDS - started)) -ge "$1" ]; then
      docker logs "$NAME" 2>&1 | tail -40 >&2
      die "vLLM did not become healthy"
    fi
    sleep 2
  done
  echo $((SECONDS - started))
}

mem_of() { docker stats --no-stream --format '{{.MemUsage}}' "$1" | cut -d/ -f1 | tr -d ' '; }

REQUEST=$(python3 - "$MODEL" <<'EOF'
import json, sys
print(json.dumps({
    "model": sys.argv[1],
    "messages": [{"role": "system", "content": "You are a helpful agent. Reply with send_message."},
                 {"role": "user", "content": "Hello! What is your name?"}],
    "tools": [{"type": "function", "function": {
        "name": "send_message", "description": "Sends a message to the human user.",
        "parameters": {"type": "object", "properties": {"message": {"type": "string"}},
                       "required": ["message"]}}}],
    "tool_choice": "auto", "parallel_tool_calls": False, "max_tokens": 256, "temperature": 0.7,
}))
EOF
)

started=$SECONDS
start
t=$(wait_healthy 900)
log "vllm-cpu: cold start: /health 200 after ${t} s (container $((SECONDS - started)) s), memory $(mem_of "$NAME")"

models=$(curl -fsS "$BASE/v1/models")
python3 - "$MODEL" "$MAX_MODEL_LEN" "$models" <<'EOF' || die "/v1/models: $models"
import json, sys
m = [d for d in json.loads(sys.argv[3])["data"] if d["id"] == sys.argv[1]]
assert m and m[0]["max_model_len"] == int(sys.argv[2]), m
EOF
log "vllm-cpu: /v1/models lists $MODEL with max_model_len $MAX_MODEL_LEN"

ok=0
for try in 1 2 3 4 5; do
  t0=$(date +%s.%N)
  answer=$(curl -sS -H 'Content-Type: application/json' -d "$REQUEST" "$BASE/v1/chat/completions")
  t1=$(date +%s.%N)
  if args=$(python3 - "$answer" <<'EOF'
import json, sys
choice = json.loads(sys.argv[1])["choices"][0]
call = choice["message"]["tool_calls"][0]["function"]
assert call["name"] == "send_message", call
args = json.loads(call["arguments"])
assert isinstance(args.get("message"), str), args
print(f'({call["arguments"]}), finish_reason {choice["finish_reason"]}')
EOF
  ); then
    log "vllm-cpu: try $try: tool call send_message$args in $(python3 -c "print(round($t1 - $t0, 2))") s"
    ok=$((ok + 1))
  else
    log "vllm-cpu: try $try: no valid send_message call: $(head -c 600 <<<"$answer")"
  fi
done
[ "$ok" -gt 0 ] || die "no try answered a valid tool call"
log "vllm-cpu: $ok of 5 tries answered a valid send_message tool call"

stream=$(curl -sS -N -H 'Content-Type: application/json' \
  -d "$(python3 -c 'import json,sys; r=json.loads(sys.argv[1]); r["stream"]=True; print(json.dumps(r))' "$REQUEST")" \
  "$BASE/v1/chat/completions")
summary=$(python3 - "$stream" <<'EOF'
import json, sys
lines = [l[6:] for l in sys.argv[1].splitlines() if l.startswith("data: ")]
assert lines and lines[-1] == "[DONE]", lines[-3:]
chunks = [json.loads(l) for l in lines[:-1]]
calls = [tc for c in chunks for ch in c["choices"] for tc in (ch["delta"].get("tool_calls") or [])]
print(f"{len(chunks)} chunks, {len(calls)} tool-call deltas, finish_reason "
      f"{[ch['finish_reason'] for c in chunks for ch in c['choices'] if ch.get('finish_reason')]}")
EOF
) || die "streaming: $(head -c 800 <<<"$stream")"
log "vllm-cpu: streaming: $summary, ending in [DONE]"
log "vllm-cpu: memory after the requests $(mem_of "$NAME")"

docker rm -f -v "$NAME" >/dev/null
log "vllm-cpu: compile cache kept: $(du -sh "$WORK/models/vllm" | cut -f1) in VLLM_CACHE_ROOT"
started=$SECONDS
start
t=$(wait_healthy 900)
log "vllm-cpu: start with the compile cache: /health 200 after ${t} s, memory $(mem_of "$NAME")"
log "all checks passed"
