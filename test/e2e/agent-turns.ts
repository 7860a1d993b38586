import { randomBytes } from 'node:crypto';
import Letta from '@letta-ai/letta-client';
import type { LettaStreamingResponse } from '@letta-ai/letta-client/resources/agents/messages';
import { Agent, fetch as undiciFetch } from 'undici';
import { type IngressTarget, lookupTo } from './http';
import type { Kubectl } from './kubectl';
import type { KubeObject } from '../../tools/kube';
import { pollUntil } from './readiness';
import { MINUTE } from '../../tools/support';

/*
 * Agent turns through the ingress with Letta's official TypeScript SDK, on the model vLLM serves:
 * what the stack exists for. A held tool (a Python tool of Letta's that waits until the test
 * releases it) keeps a run in progress for as long as a check needs: while it holds, the stream
 * must already have delivered the tool call, and a pod being drained must still carry the stream.
 */

/** The held tool gives up after this long, below Letta's tool sandbox timeout (180 s). */
const HOLD_LIMIT_SECONDS = 170;
const HELD_TOOL = 'hold_until_released';
/** The file that releases a held tool, in the Letta container's /tmp (an emptyDir of the pod). */
const RELEASE_FILE = '/tmp/letta-e2e-release';

/**
 * The tool's source: Letta derives its schema from the signature and docstring. It consumes the
 * release file, so each release frees one hold, and answers with the name of the pod it ran in.
 */
const HELD_TOOL_SOURCE = `def ${HELD_TOOL}() -> str:
    """Waits until the end-to-end test releases it.

    Returns:
        str: The name of the pod that ran the tool.
    """
    import os
    import socket
    import time

    for _ in range(${HOLD_LIMIT_SECONDS}):
        if os.path.exists("${RELEASE_FILE}"):
            os.remove("${RELEASE_FILE}")
            return socket.gethostname()
        time.sleep(1)
    return "never released"
`;

/** Letta's official client, talking to the ingress as `target.host` while connecting to `target.address`. */
export function lettaSdk(target: IngressTarget, password?: string): Letta {
  const dispatcher = new Agent({ connect: { lookup: lookupTo(target.address) } });
  return new Letta({
    baseURL: `http://${target.host}:${target.port}`,
    apiKey: password ?? null,
    // One try per call: a retried request would hide the failure a check looks for.
    maxRetries: 0,
    timeout: 5 * MINUTE,
    fetch: ((url: string, init: object) => undiciFetch(url, { ...init, dispatcher })) as unknown as typeof fetch,
  });
}

/** The agents of the checks, on `vllm/<model>`, and the ids the checks found again later. */
export interface Conversation {
  readonly model: string;
  /** Answers in one turn: no tools, so the model's reply is an assistant message. */
  readonly plainAgent: string;
  /** Calls the held tool first and ends its turn after it. */
  readonly holdingAgent: string;
  /** Messages (type and id) that each turn returned, to read back later. */
  readonly stored: Array<{ agent: string; type: string; id: string }>;
}

/** Creates the two agents of the checks (and the held tool) on Letta's handle for the vLLM model. */
export async function startConversation(sdk: Letta, servedModel: string): Promise<Conversation> {
  const model = `vllm/${servedModel}`;
  const token = randomBytes(4).toString('hex');
  await sdk.tools.upsert({ source_code: HELD_TOOL_SOURCE });
  const common = {
    model,
    // Named in full so that creating the agent calls no embedding provider; no check embeds anything.
    embedding_config: {
      embedding_endpoint_type: 'openai' as const,
      embedding_endpoint: 'https://api.openai.com/v1',
      embedding_model: 'text-embedding-3-small',
      embedding_dim: 1536,
    },
    include_base_tools: false,
    memory_blocks: [{ label: 'persona', value: 'An agent of the letta-k8s end-to-end test.' }],
  };
  const plain = await sdk.agents.create({ ...common, name: `e2e-plain-${token}` });
  const holding = await sdk.agents.create({
    ...common,
    name: `e2e-holding-${token}`,
    tools: [HELD_TOOL],
    tool_rules: [
      { tool_name: HELD_TOOL, type: 'run_first' },
      { tool_name: HELD_TOOL, type: 'exit_loop' },
    ],
  });
  return { model, plainAgent: plain.id, holdingAgent: holding.id, stored: [] };
}

/** The types of the messages a finished turn must hold: the reply, or a tool call and its return. */
function replyProblems(types: readonly string[]): string[] {
  const replied = types.includes('assistant_message') || (types.includes('tool_call_message') && types.includes('tool_return_message'));
  return replied ? [] : [`no reply: the turn returned ${types.join(', ') || 'nothing'}`];
}

/** POST /v1/agents/{id}/messages through the SDK: one turn, answered whole. */
export async function plainTurn(sdk: Letta, conversation: Conversation): Promise<{ problems: string[]; seconds: number }> {
  const started = Date.now();
  const response = await sdk.agents.messages.create(conversation.plainAgent, { messages: [{ role: 'user', content: 'Hello from the cluster test.' }], max_steps: 3 });
  const seconds = (Date.now() - started) / 1000;
  const types = response.messages.map((message) => message.message_type ?? '');
  const problems = replyProblems(types);
  if (!response.stop_reason?.stop_reason) problems.push('the turn ended without a stop reason');
  for (const message of response.messages) {
    if (message.message_type && message.message_type !== 'user_message') conversation.stored.push({ agent: conversation.plainAgent, type: message.message_type, id: message.id });
  }
  return { problems, seconds };
}

export interface HeldStream {
  readonly problems: string[];
  /** Event types in arrival order. */
  readonly events: string[];
  /** From the request to the first event. */
  readonly firstEventSeconds?: number;
  /** The pod the held tool ran in, from its return. */
  readonly toolPod?: string;
}

/**
 * Streams a turn of the holding agent (SSE, token streaming on) and calls `whileHeld` once the
 * tool call has arrived, with the run id and the run's status at that moment; the tool is released
 * when `whileHeld` resolves. The stream must then end with the tool's return and a stop reason.
 */
export async function heldStream(
  sdk: Letta,
  conversation: Conversation,
  whileHeld: (held: { runId: string; runStatus: string }) => Promise<void>,
): Promise<HeldStream> {
  const problems: string[] = [];
  const events: string[] = [];
  const started = Date.now();
  let firstEventSeconds: number | undefined;
  let toolPod: string | undefined;
  let held = false;
  const stream = await sdk.agents.messages.stream(conversation.holdingAgent, {
    messages: [{ role: 'user', content: 'Hold, please.' }],
    stream_tokens: true,
    max_steps: 2,
  });
  try {
    for await (const event of stream as AsyncIterable<LettaStreamingResponse>) {
      const type = event.message_type ?? 'unknown';
      firstEventSeconds ??= (Date.now() - started) / 1000;
      if (events.at(-1) !== type) events.push(type);
      if (type === 'tool_call_message' && !held) {
        held = true;
        const runId = (event as { run_id?: string | null }).run_id;
        if (!runId) problems.push('the tool call event names no run');
        else {
          const runStatus = String((await sdk.runs.retrieve(runId)).status);
          // Not released on failure: the tool gives up by itself and answers "never released".
          await whileHeld({ runId, runStatus }).catch((error: Error) => problems.push(`while the tool held: ${error.message}`));
        }
      }
      if (type === 'tool_return_message') {
        const message = event as { tool_return?: string; id: string };
        toolPod = message.tool_return;
        conversation.stored.push({ agent: conversation.holdingAgent, type, id: message.id });
      }
    }
  } catch (error) {
    // A reset shows here (undici says "terminated"): the stream ended without its final events.
    problems.push(`the stream broke off after ${events.join(', ') || 'no event'}: ${(error as Error).message}`);
  }
  if (!held) problems.push('no tool call arrived');
  if (!events.includes('stop_reason')) problems.push(`the stream ended without a stop reason (events: ${events.join(', ')})`);
  problems.push(...replyProblems(events));
  return { problems, events, firstEventSeconds, toolPod };
}

/** Frees the held tool in `pod` (its server container), where the tool runs as a subprocess. */
export async function releaseHeldTool(kubectl: Kubectl, namespace: string, pod: string): Promise<void> {
  await kubectl.check(['exec', '--namespace', namespace, pod, '--container', 'server', '--', 'touch', RELEASE_FILE]);
}

/** What of the turns' messages does not read back through the SDK. */
export async function storedReplyProblems(sdk: Letta, conversation: Conversation): Promise<string[]> {
  if (conversation.stored.length === 0) return ['no turn stored a reply to read back'];
  const problems: string[] = [];
  for (const agent of new Set(conversation.stored.map((message) => message.agent))) {
    const found = new Set<string>();
    for await (const message of sdk.agents.messages.list(agent, { limit: 100 })) found.add(`${message.message_type}/${message.id}`);
    for (const expected of conversation.stored.filter((message) => message.agent === agent)) {
      if (!found.has(`${expected.type}/${expected.id}`)) problems.push(`agent ${agent}: ${expected.type} ${expected.id} does not read back`);
    }
  }
  return problems;
}

/** The Letta pod being replaced in a rollout: the one with a deletion time. */
export function terminatingPod(pods: readonly KubeObject[]): string | undefined {
  return pods.find((pod) => (pod.metadata as { deletionTimestamp?: string }).deletionTimestamp)?.metadata.name;
}

export interface DrainOptions {
  readonly namespace: string;
  /** Labels of Letta's pods. */
  readonly selector: Readonly<Record<string, string>>;
  /** The Letta pods before the restart began. */
  readonly podsBefore: readonly string[];
  readonly log: (line: string) => void;
}

/** Whether the server container of `pod` runs (its init containers are done), ready or not. */
function serverRunning(pod: KubeObject): boolean {
  return (pod.status?.containerStatuses ?? []).some((status: KubeObject) => status.name === 'server' && status.state?.running);
}

/**
 * Beside a rolling restart of Letta: opens a held stream on the pod being replaced (the only ready
 * one while its successor's server starts), waits until that pod has been told to stop (its
 * deletion, then uvicorn's "Shutting down" after the preStop pause) and only then releases the
 * tool. The stream must then end as usual, its tool having run in the stopping pod.
 */
export async function streamThroughDrain(kubectl: Kubectl, sdk: Letta, conversation: Conversation, options: DrainOptions): Promise<string[]> {
  const { namespace, selector, podsBefore, log } = options;
  const pods = () => kubectl.pods(selector, namespace);
  const poll = <T>(attempt: () => Promise<T | undefined>, timeoutMs: number) => pollUntil(attempt, { timeoutMs, intervalMs: 2_000 });
  const successor = await poll(async () => (await pods()).find((pod) => !podsBefore.includes(pod.metadata.name) && serverRunning(pod)), 10 * MINUTE);
  if (!successor) return ['no new Letta pod started its server within 10 minutes'];
  log(`  ${successor.metadata.name}'s server is starting: opening the held stream on the pod it replaces`);
  let stopping: string | undefined;
  const stream = await heldStream(sdk, conversation, async () => {
    stopping = await poll(async () => terminatingPod(await pods()), 10 * MINUTE);
    if (!stopping) throw new Error('no Letta pod was told to stop within 10 minutes');
    const pod = stopping;
    const stopped = await poll(async () => {
      const log = await kubectl.run(['logs', '--namespace', namespace, pod, '--container', 'server', '--tail=200']);
      return log.stdout.includes('Shutting down') ? true : undefined;
    }, 2 * MINUTE);
    if (!stopped) throw new Error(`${pod} never logged "Shutting down" (SIGTERM) after its deletion`);
    log(`  ${pod} got SIGTERM and drains with the stream open: releasing the held tool`);
    await releaseHeldTool(kubectl, namespace, pod);
  });
  const problems = [...stream.problems];
  if (stream.toolPod !== stopping) problems.push(`the held tool answered ${JSON.stringify(stream.toolPod)}, not the stopping pod ${stopping}`);
  log(`  the stream through the drain: ${stream.events.join(' → ')}`);
  return problems;
}
