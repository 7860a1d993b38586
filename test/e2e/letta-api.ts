import { randomBytes } from 'node:crypto';
import { httpRequest, type HttpResponse, type IngressTarget } from './http';
import { pollUntil } from './readiness';

/*
 * Letta's own REST API through the ingress, as a client uses it: what is written (an agent with
 * a memory block, a standalone block) must read back.
 */

export interface LettaClient {
  readonly target: IngressTarget;
  /** The server password when password auth is on (Authorization: Bearer). */
  readonly password?: string;
}

const REQUEST_TIMEOUT_MS = 30_000;

export async function lettaCall(client: LettaClient, method: string, path: string, json?: unknown): Promise<HttpResponse> {
  const headers: Record<string, string> = client.password ? { authorization: `Bearer ${client.password}` } : {};
  return httpRequest(client.target, method, path, REQUEST_TIMEOUT_MS, { headers, json });
}

export interface WrittenData {
  readonly token: string;
  readonly agentId: string;
  readonly blockId: string;
}

/**
 * A block and an agent whose persona carries a random token. The agent names its model and
 * embedding by full configuration, not by a provider handle: creating it calls no provider.
 */
export async function writeLettaData(client: LettaClient): Promise<WrittenData> {
  const token = randomBytes(6).toString('hex');
  const block = await lettaCall(client, 'POST', '/v1/blocks/', { label: 'e2e-notes', value: `notes ${token}` });
  if (block.status !== 200) throw new Error(`POST /v1/blocks/: status ${block.status}: ${block.body.slice(0, 300)}`);
  const agent = await lettaCall(client, 'POST', '/v1/agents/', {
    name: `e2e-${token}`,
    llm_config: { model: 'gpt-4o-mini', model_endpoint_type: 'openai', model_endpoint: 'https://api.openai.com/v1', context_window: 128000 },
    embedding_config: {
      embedding_endpoint_type: 'openai',
      embedding_endpoint: 'https://api.openai.com/v1',
      embedding_model: 'text-embedding-3-small',
      embedding_dim: 1536,
    },
    memory_blocks: [{ label: 'persona', value: `persona ${token}` }],
    include_base_tools: false,
  });
  if (agent.status !== 200) throw new Error(`POST /v1/agents/: status ${agent.status}: ${agent.body.slice(0, 300)}`);
  return { token, agentId: JSON.parse(agent.body).id, blockId: JSON.parse(block.body).id };
}

/** What of the written data does not read back; empty when all of it does. */
async function readBackProblems(client: LettaClient, written: WrittenData): Promise<string[]> {
  const problems: string[] = [];
  const agent = await lettaCall(client, 'GET', `/v1/agents/${written.agentId}`);
  if (agent.status !== 200) problems.push(`GET /v1/agents/${written.agentId}: status ${agent.status}: ${agent.body.slice(0, 200)}`);
  else {
    const state = JSON.parse(agent.body);
    if (state.name !== `e2e-${written.token}`) problems.push(`agent ${written.agentId} is named ${JSON.stringify(state.name)}`);
  }
  const block = await lettaCall(client, 'GET', `/v1/blocks/${written.blockId}`);
  if (block.status !== 200) problems.push(`GET /v1/blocks/${written.blockId}: status ${block.status}: ${block.body.slice(0, 200)}`);
  else if (JSON.parse(block.body).value !== `notes ${written.token}`) problems.push(`block ${written.blockId} reads ${JSON.parse(block.body).value}`);
  return problems;
}

/**
 * Reads the data back until it all does or the time runs out (Letta reconnects to a database that
 * has just come back); the last problems on time-out.
 */
export async function readBackWithin(client: LettaClient, written: WrittenData, timeoutMs: number): Promise<string[]> {
  let last: string[] = ['no attempt'];
  const done = await pollUntil(
    async () => {
      try {
        last = await readBackProblems(client, written);
      } catch (error) {
        last = [(error as Error).message];
      }
      return last.length === 0 ? true : undefined;
    },
    { timeoutMs, intervalMs: 5_000 },
  );
  return done ? [] : last;
}
