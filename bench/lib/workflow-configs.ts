/**
 * The agentd configurations of the workflows benchmark: chains of sequential echo steps, to an
 * agent hosted in the same process (run in process by the engine) or to a remote agent URL
 * (over A2A, on a chosen transport).
 */
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';

/** Transports a remote workflow step can be told to use. */
export type StepTransport = 'jsonrpc' | 'grpc';

/** A step's target: an agent hosted here by name, or a remote agent's URL on a transport. */
export type ChainTarget = { agent: string } | { url: string; transport: StepTransport };

/**
 * A `kind: workflow` agent of `steps` sequential steps to `target`: step 1 sends the
 * workflow's input, step i the output of step i-1, so the workflow answers with its input.
 * `transport` is written only when it is not JSON-RPC (the outbound caller's default).
 */
export function chainWorkflow(name: string, steps: number, target: ChainTarget): Record<string, unknown> {
  const to =
    'agent' in target
      ? { agent: target.agent }
      : { url: target.url, ...(target.transport === 'jsonrpc' ? {} : { transport: target.transport }) };
  return {
    name,
    kind: 'workflow',
    steps: Array.from({ length: steps }, (_, i) => ({
      id: `s${i + 1}`,
      ...to,
      input: i === 0 ? '{{ input }}' : `{{ steps.s${i}.output }}`,
      ...(i === 0 ? {} : { needs: [`s${i}`] }),
    })),
  };
}

/**
 * Writes an agentd configuration serving `agents` (echo agents and workflows) to a temporary
 * file and returns its path. Metrics stay on (as by default), on a free port.
 */
export function writeAgentdConfig(
  name: string,
  transport: 'http' | 'both',
  agents: Record<string, unknown>[],
): string {
  const file = join(tmpdir(), `agentd-bench-workflows-${name}-${process.pid}.yaml`);
  // No shutdown delay: no load balancer needs to notice, and the harness stops each process in turn.
  writeFileSync(
    file,
    stringify({ server: { transport, shutdownDelayMs: 0 }, prometheus: { port: 0 }, agents }),
  );
  return file;
}
