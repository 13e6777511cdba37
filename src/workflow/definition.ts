/**
 * The YAML shape of a `kind: workflow` agent: its steps and how its result is put together.
 *
 * zod checks each field on its own; what involves several fields or steps (exactly one target,
 * needs that exist, no cycles, templates that read only dependencies) is checked by
 * `WorkflowPlan.from`, which the config schema runs so that both kinds of mistakes are reported
 * the same way, with the path of the field.
 */
import { z } from 'zod';

/** Step ids: usable in references (`steps.<id>.output`) and in metric labels. */
export const STEP_ID = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;

const stepId = z.string().regex(STEP_ID, 'must be 1-64 letters, digits, "-" or "_", starting with a letter');

/** How often a failing step is tried, and how long to wait in between (doubling, capped). */
const retrySchema = z
  .strictObject({
    /** Tries in all, the first included; 1 means no retry. */
    attempts: z.number().int().min(1).max(10).default(1),
    /** Wait before the second try; doubles for each further one. */
    backoffMs: z.number().int().min(0).max(3_600_000).default(500),
    /** The wait never grows past this. */
    maxBackoffMs: z.number().int().min(0).max(3_600_000).default(30_000),
  })
  .prefault({});

const stepSchema = z.strictObject({
  id: stepId,
  // The target: exactly one of these four (checked by WorkflowPlan.from).
  /** An agent hosted here, or one in the agent registry, by name. */
  agent: z.string().min(1).optional(),
  /** A remote agent: its agent card URL or base URL. */
  url: z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' }).optional(),
  /** Any agent offering this skill id or tag (hosted or registered). */
  capability: z.string().min(1).optional(),
  /** A question for the user (a template); the step's output is the user's next message. */
  ask: z.string().min(1).optional(),
  /** The message text sent to the target (a template); not allowed on `ask` steps. */
  input: z.string().optional(),
  /** Steps that must settle before this one starts. */
  needs: z.array(stepId).default([]),
  /** A condition, evaluated when the step is ready; false skips the step. */
  if: z.string().min(1).optional(),
  /** For agents reached over A2A (`url`, or an agent another server hosts): JSON-RPC by default. */
  transport: z.enum(['jsonrpc', 'rest', 'grpc']).optional(),
  /** Per attempt: the child is canceled and the attempt fails (PEER_TIMEOUT). Not for `ask` steps. */
  timeoutSeconds: z.number().min(1).max(86_400).optional(),
  retry: retrySchema,
  /**
   * When the step fails (after its retries): `fail` the workflow, `continue` (the step counts
   * as failed, its dependents still run), or run a `fallback` step in its place.
   */
  onError: z.union([z.enum(['fail', 'continue']), z.strictObject({ fallback: stepId })]).default('fail'),
});

/** The fields a `kind: workflow` agent adds to the common agent fields. */
export const workflowFields = {
  steps: z.array(stepSchema).min(1, 'a workflow needs at least one step').max(64, 'at most 64 steps'),
  /** The workflow's result text (a template); default: the outputs of the steps nothing needs. */
  output: z.string().optional(),
  /** Relay the steps' artifacts as the workflow's own artifacts. */
  relayArtifacts: z.boolean().default(false),
};

/** The workflow fields on their own, without the common agent fields (for tests and tools). */
export const workflowSchema = z.strictObject(workflowFields);

/** A validated workflow definition (defaults filled in). */
export type WorkflowDefinition = z.infer<typeof workflowSchema>;
export type StepDefinition = WorkflowDefinition['steps'][number];
export type RetryPolicy = StepDefinition['retry'];
export type OnError = StepDefinition['onError'];
