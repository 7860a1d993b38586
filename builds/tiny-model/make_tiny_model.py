"""Makes letta-k8s/tiny-tool-caller: a tiny tool-calling model for vLLM, with no download.

It proves the wire, not answer quality: the weights are random (seeded, so every run makes the
same files), and what it says is noise. What it does have is what a server and its clients
exercise: a Qwen2 architecture (2 layers, hidden 128, 4 attention heads of size 32, 2 key-value
heads; 32 is the smallest head size vLLM's CPU attention accepts), a byte-level BPE tokenizer of
4096 tokens trained with the `tokenizers` library on local text (the top-level modules of the
Python standard library running this script, in name order), a hermes-style chat template
with tools (`<tool_call>`/`</tool_call>`, `<tool_response>`), and per-token output biases
built into the weights so that it opens a tool call, writes short JSON and ends its turn:
  - every token's embedding carries a constant in hidden dimension 0 and the attention and
    MLP outputs are scaled down, so the final norm's dimension 0 is about constant and the
    output head's column 0 acts as a bias per output token: JSON punctuation favoured (most of
    all tokens that open with a quote, which end strings), `<|im_end|>` and `</tool_call>`
    favoured, `<tool_call>` disfavoured (it is text inside a JSON string), whitespace-only tokens
    and the other special tokens suppressed (vLLM's structured outputs keep the arguments to the
    tool's schema);
  - whitespace-only tokens' embeddings (the generation prompt ends in a newline) carry
    dimension 2, which the output head turns into a strong preference for `<tool_call>` next:
    the answer opens a tool call;
  - `</tool_call>`'s embedding carries dimension 1, which the output head turns into a strong
    preference for `<|im_end|>` next: the turn ends after the call.

It writes the model in the Hugging Face hub cache layout, so that vLLM with HF_HUB_OFFLINE=1
and HF_HOME=<dir> serves it by its id:
  <HF_HOME>/hub/models--letta-k8s--tiny-tool-caller/{blobs/, refs/main, snapshots/<revision>/}
The revision is a hash of the files' content (40 hex digits, like a commit id).

  python make_tiny_model.py HF_HOME      (needs numpy, safetensors, tokenizers)
"""

import glob
import hashlib
import json
import os
import sys
import sysconfig

import numpy as np
from safetensors.numpy import save
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

MODEL_ID = "letta-k8s/tiny-tool-caller"
SEED = 20261205
VOCAB_SIZE = 4096
HIDDEN = 128
LAYERS = 2
HEADS = 4
KV_HEADS = 2
HEAD_DIM = HIDDEN // HEADS
INTERMEDIATE = 256
MAX_POSITIONS = 32768

# Special tokens end a turn or mark one; the tool-call markers are plain added tokens (not
# special), as in Qwen's tokenizers: vLLM drops special tokens from the text it returns, and its
# hermes parser must see the markers in that text.
SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
ADDED = ["<tool_call>", "</tool_call>", "<tool_response>", "</tool_response>"]

# Hermes-style: the tools as JSON lines inside <tools></tools> in the system turn, calls as
# {"name": ..., "arguments": {...}} inside <tool_call></tool_call>, results in user turns inside
# <tool_response></tool_response>.
CHAT_TEMPLATE = (
    "{%- set ns = namespace(system='') -%}"
    "{%- if messages and messages[0].role == 'system' and messages[0].content is string -%}"
    "{%- set ns.system = messages[0].content -%}"
    "{%- endif -%}"
    "{%- if tools -%}"
    "{{ '<|im_start|>system\\n' }}"
    "{%- if ns.system -%}{{ ns.system + '\\n\\n' }}{%- endif -%}"
    "{{ '# Tools\\n\\nYou may call functions. Their signatures are inside <tools></tools>:\\n<tools>\\n' }}"
    "{%- for tool in tools -%}"
    "{{ (tool.function if tool.function is defined else tool) | tojson }}{{ '\\n' }}"
    "{%- endfor -%}"
    "{{ '</tools>\\n\\nTo call one, answer with a JSON object holding its name and arguments inside '"
    "'<tool_call></tool_call>:\\n<tool_call>\\n{\"name\": <function name>, \"arguments\": '"
    "'<arguments as a JSON object>}\\n</tool_call><|im_end|>\\n' }}"
    "{%- elif ns.system -%}"
    "{{ '<|im_start|>system\\n' + ns.system + '<|im_end|>\\n' }}"
    "{%- endif -%}"
    "{%- for message in messages -%}"
    "{%- if message.role == 'system' and loop.first -%}"
    "{%- elif message.role == 'tool' -%}"
    "{%- if loop.first or loop.previtem.role != 'tool' -%}{{ '<|im_start|>user' }}{%- endif -%}"
    "{{ '\\n<tool_response>\\n' }}"
    "{{ message.content if message.content is string else message.content | tojson }}"
    "{{ '\\n</tool_response>' }}"
    "{%- if loop.last or loop.nextitem.role != 'tool' -%}{{ '<|im_end|>\\n' }}{%- endif -%}"
    "{%- else -%}"
    "{{ '<|im_start|>' + message.role + '\\n' }}"
    "{%- if message.content is string -%}{{ message.content }}{%- endif -%}"
    "{%- for call in message.tool_calls or [] -%}"
    "{%- set fn = call.function if call.function is defined else call -%}"
    "{%- if message.content or not loop.first -%}{{ '\\n' }}{%- endif -%}"
    "{{ '<tool_call>\\n{\"name\": ' }}{{ fn.name | tojson }}{{ ', \"arguments\": ' }}"
    "{{ fn.arguments if fn.arguments is string else fn.arguments | tojson }}"
    "{{ '}\\n</tool_call>' }}"
    "{%- endfor -%}"
    "{{ '<|im_end|>\\n' }}"
    "{%- endif -%}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{ '<|im_start|>assistant\\n' }}{%- endif -%}"
)


def training_text():
    """The standard library's top-level modules, in name order: the same on every machine
    with this Python."""
    stdlib = sysconfig.get_paths()["stdlib"]
    for path in sorted(glob.glob(os.path.join(stdlib, "*.py"))):
        with open(path, encoding="utf-8", errors="replace") as f:
            yield f.read()


def make_tokenizer():
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE - len(SPECIAL) - len(ADDED),
        min_frequency=2,
        show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        special_tokens=[],
    )
    tok.train_from_iterator(training_text(), trainer=trainer)
    tok.add_special_tokens(SPECIAL)
    tok.add_tokens(ADDED)
    return tok


def whitespace_tokens(tok):
    return [i for i in range(tok.get_vocab_size())
            if tok.decode([i], skip_special_tokens=False).strip() == ""
            and tok.id_to_token(i) not in SPECIAL + ADDED]


def output_biases(tok):
    """A bias per output token (see the module's docstring)."""
    size = tok.get_vocab_size()
    bias = np.zeros(size, dtype=np.float32)
    for token_id in range(size):
        text = tok.decode([token_id], skip_special_tokens=False)
        if text and set(text) <= set('{}":,'):
            bias[token_id] = 9.0 if text.startswith('"') else 5.0
    bias[whitespace_tokens(tok)] = -30.0
    bias[tok.token_to_id("<tool_call>")] = -10.0
    bias[tok.token_to_id("</tool_call>")] = 6.0
    bias[tok.token_to_id("<|im_end|>")] = 6.0
    bias[tok.token_to_id("<|endoftext|>")] = -30.0
    bias[tok.token_to_id("<|im_start|>")] = -30.0
    return bias


def make_weights(tok):
    rng = np.random.default_rng(SEED)
    vocab = tok.get_vocab_size()

    def normal(*shape, std=0.02):
        return rng.normal(0.0, std, size=shape).astype(np.float32)

    embed = normal(vocab, HIDDEN)
    embed[:, 0] = 1.0  # the constant dimension that carries the output biases
    embed[:, 1:3] = 0.0
    embed[tok.token_to_id("</tool_call>"), 1] = 1.0
    embed[whitespace_tokens(tok), 2] = 1.0
    w = {"model.embed_tokens.weight": embed}
    for i in range(LAYERS):
        p = f"model.layers.{i}."
        w[p + "input_layernorm.weight"] = np.ones(HIDDEN, np.float32)
        w[p + "post_attention_layernorm.weight"] = np.ones(HIDDEN, np.float32)
        w[p + "self_attn.q_proj.weight"] = normal(HEADS * HEAD_DIM, HIDDEN)
        w[p + "self_attn.q_proj.bias"] = np.zeros(HEADS * HEAD_DIM, np.float32)
        w[p + "self_attn.k_proj.weight"] = normal(KV_HEADS * HEAD_DIM, HIDDEN)
        w[p + "self_attn.k_proj.bias"] = np.zeros(KV_HEADS * HEAD_DIM, np.float32)
        w[p + "self_attn.v_proj.weight"] = normal(KV_HEADS * HEAD_DIM, HIDDEN)
        w[p + "self_attn.v_proj.bias"] = np.zeros(KV_HEADS * HEAD_DIM, np.float32)
        # Small outputs: the residual stream stays close to the input token's embedding.
        w[p + "self_attn.o_proj.weight"] = normal(HIDDEN, HEADS * HEAD_DIM, std=0.002)
        w[p + "mlp.gate_proj.weight"] = normal(INTERMEDIATE, HIDDEN)
        w[p + "mlp.up_proj.weight"] = normal(INTERMEDIATE, HIDDEN)
        w[p + "mlp.down_proj.weight"] = normal(HIDDEN, INTERMEDIATE, std=0.002)
    w["model.norm.weight"] = np.ones(HIDDEN, np.float32)

    head = normal(vocab, HIDDEN)
    # After the final RMS norm an embedding of about unit norm in dimension 0 (and 0.02 noise
    # in the others) reads about sqrt(HIDDEN / (1 + 0.02**2 * HIDDEN)) there.
    scale = float(np.sqrt(HIDDEN / (1.0 + 0.02**2 * HIDDEN)))
    head[:, 0] = output_biases(tok) / scale
    head[:, 1:3] = 0.0
    head[tok.token_to_id("<|im_end|>"), 1] = 40.0 / scale
    head[tok.token_to_id("<tool_call>"), 2] = 40.0 / scale
    w["lm_head.weight"] = head
    return w


def model_files(tok):
    """File name -> bytes of the model's snapshot, and the number of parameters."""
    ids = {t: tok.token_to_id(t) for t in SPECIAL + ADDED}
    config = {
        "architectures": ["Qwen2ForCausalLM"],
        "model_type": "qwen2",
        "vocab_size": tok.get_vocab_size(),
        "hidden_size": HIDDEN,
        "intermediate_size": INTERMEDIATE,
        "num_hidden_layers": LAYERS,
        "num_attention_heads": HEADS,
        "num_key_value_heads": KV_HEADS,
        "head_dim": HEAD_DIM,
        "hidden_act": "silu",
        "max_position_embeddings": MAX_POSITIONS,
        "rms_norm_eps": 1e-6,
        "rope_theta": 10000.0,
        "tie_word_embeddings": False,
        "use_sliding_window": False,
        "attention_dropout": 0.0,
        "initializer_range": 0.02,
        "bos_token_id": ids["<|endoftext|>"],
        "eos_token_id": ids["<|im_end|>"],
        "torch_dtype": "float32",
    }
    generation_config = {
        "bos_token_id": ids["<|endoftext|>"],
        "eos_token_id": [ids["<|im_end|>"], ids["<|endoftext|>"]],
        "pad_token_id": ids["<|endoftext|>"],
    }
    tokenizer_config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "model_max_length": MAX_POSITIONS,
        "bos_token": None,
        "eos_token": "<|im_end|>",
        "pad_token": "<|endoftext|>",
        "unk_token": None,
        "add_bos_token": False,
        "add_prefix_space": False,
        "clean_up_tokenization_spaces": False,
        "split_special_tokens": False,
        "added_tokens_decoder": {
            str(ids[t]): {"content": t, "lstrip": False, "rstrip": False, "normalized": False,
                          "single_word": False, "special": t in SPECIAL}
            for t in SPECIAL + ADDED
        },
        "chat_template": CHAT_TEMPLATE,
    }

    def dumps(obj):
        return (json.dumps(obj, indent=2, sort_keys=True) + "\n").encode()

    files = {
        "config.json": dumps(config),
        "generation_config.json": dumps(generation_config),
        "tokenizer_config.json": dumps(tokenizer_config),
        "tokenizer.json": tok.to_str(pretty=True).encode(),
        "README.md": (__doc__.split("\n\n")[0] + f"\n\nRandom weights, seed {SEED}: it proves the "
                      "wire, not answer quality.\n").encode(),
    }
    weights = make_weights(tok)
    params = sum(int(np.prod(a.shape)) for a in weights.values())
    files["model.safetensors"] = save(weights, metadata={"format": "pt"})
    return files, params


def write_hub_cache(hf_home, files):
    """The hub cache layout: content-addressed blobs, snapshot links to them, refs/main."""
    repo = os.path.join(hf_home, "hub", "models--" + MODEL_ID.replace("/", "--"))
    digest = hashlib.sha1()
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + hashlib.sha256(files[name]).digest())
    revision = digest.hexdigest()
    os.makedirs(os.path.join(repo, "blobs"), exist_ok=True)
    os.makedirs(os.path.join(repo, "refs"), exist_ok=True)
    snapshot = os.path.join(repo, "snapshots", revision)
    os.makedirs(snapshot, exist_ok=True)
    for name, data in sorted(files.items()):
        blob = hashlib.sha256(data).hexdigest()
        with open(os.path.join(repo, "blobs", blob), "wb") as f:
            f.write(data)
        link = os.path.join(snapshot, name)
        if os.path.lexists(link):
            os.remove(link)
        os.symlink(os.path.join("..", "..", "blobs", blob), link)
    with open(os.path.join(repo, "refs", "main"), "w") as f:
        f.write(revision)
    return revision


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__.rstrip().rsplit("\n", 1)[1].strip())
    tok = make_tokenizer()
    files, params = model_files(tok)
    revision = write_hub_cache(sys.argv[1], files)
    print(json.dumps({"id": MODEL_ID, "revision": revision, "vocab_size": tok.get_vocab_size(),
                      "parameters": params}))


if __name__ == "__main__":
    main()
