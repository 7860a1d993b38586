/**
 * The arguments of `vllm serve` that the vllm chart sets. vllm.extraArgs is appended after them,
 * and argparse lets a later flag win, so the settings refuse any extra argument that names one
 * of these flags: the list comes from this one function, which the chart itself calls.
 */
export interface VllmServeSettings {
  readonly device: 'nvidia' | 'cpu';
  readonly model: string;
  readonly servedModelName?: string;
  readonly maxModelLen: number;
  readonly dtype: string;
  readonly gpus: number;
  readonly toolCallParser: string;
}

export function vllmServeArgs(vllm: VllmServeSettings, port: number): string[] {
  return [
    vllm.model,
    '--host=0.0.0.0',
    `--port=${port}`,
    `--served-model-name=${vllm.servedModelName ?? vllm.model}`,
    `--max-model-len=${vllm.maxModelLen}`,
    ...(vllm.dtype === 'auto' ? [] : [`--dtype=${vllm.dtype}`]),
    // On CPUs there is no tensor parallelism across GPUs to size.
    ...(vllm.device === 'cpu' ? [] : [`--tensor-parallel-size=${vllm.gpus}`]),
    // Letta calls tools through the OpenAI API: vLLM must pick and parse tool calls itself.
    '--enable-auto-tool-choice',
    `--tool-call-parser=${vllm.toolCallParser}`,
  ];
}

// The model is the positional argument, which vLLM also takes as --model.
const OWNED_FLAGS: readonly string[] = [
  // Every flag the chart may set: the GPU device's, with a dtype given.
  ...vllmServeArgs({ device: 'nvidia', model: 'model', maxModelLen: 1, dtype: 'float32', gpus: 1, toolCallParser: 'parser' }, 1)
    .filter((arg) => arg.startsWith('--'))
    .map((arg) => arg.split('=')[0]),
  '--model',
];
// Short spellings that vLLM's parser defines for owned flags.
const SHORT_FLAGS: Record<string, string> = { '-tp': '--tensor-parallel-size' };

/**
 * The owned flag an extra argument would override, if any. vLLM reads "--max_model_len" as
 * "--max-model-len", and argparse takes an unambiguous prefix ("--ho") for the whole flag.
 */
export function ownedVllmFlag(arg: string): string | undefined {
  if (!arg.startsWith('-')) return undefined;
  const flag = arg.split('=')[0];
  if (SHORT_FLAGS[flag]) return SHORT_FLAGS[flag];
  if (!flag.startsWith('--') || flag.length < 3) return undefined;
  const normalized = flag.replace(/_/g, '-');
  return OWNED_FLAGS.find((owned) => owned.startsWith(normalized));
}
