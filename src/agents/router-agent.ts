/**
 * `router`: sends each message to the agent best placed to answer it and returns that
 * agent's result as its own (artifacts relayed, final state mirrored). The choice, in order:
 *
 * 1. the first of the configured `routes` whose keywords appear in the message (its
 *    `agent`, or an agent with its `capability`, found through discovery);
 * 2. with a model configured (`llm`), the candidate the model names when shown every
 *    candidate's card (name, description, skills);
 * 3. without one, the candidate whose skills (ids, tags, names, examples) share the most
 *    words with the message;
 * 4. the `fallback` agent.
 *
 * Candidates are the agents in `candidates`, or every agent registered by the servers on
 * this store but the router itself. The call is durable (`requestContext.call`): a router
 * re-run after a takeover re-attaches to the agent it chose. The choice is recorded in the
 * task's metadata (`agentd.router`: target, reason) and counted in
 * `agentd_router_routes_total{router,target,reason}`.
 */
import { Role, TaskState } from '@a2a-js/sdk';
import type { AgentCard, StreamResponse } from '@a2a-js/sdk';
import type { AgentExecutor, ExecutionEventBus, RequestContext } from '@a2a-js/sdk/server';
import { isoNow } from '../engine/clock.js';
import { AgentdRequestContext } from '../engine/hosted-agent.js';
import type { ChildTarget } from '../workflow/children.js';
import { textMessage, textOf } from './parts.js';

export interface RouteRule {
  readonly agent?: string | undefined;
  readonly capability?: string | undefined;
  readonly keywords: readonly string[];
}

/** Picks a candidate's name for a message, or undefined (the model's answer named none). */
export type ModelChooser = (
  message: string,
  candidates: ReadonlyArray<{ name: string; card: AgentCard }>,
  signal: AbortSignal,
) => Promise<string | undefined>;

export interface RouterOptions {
  readonly name: string;
  readonly routes: readonly RouteRule[];
  readonly candidates?: readonly string[] | undefined;
  readonly fallback?: string | undefined;
  readonly chooser?: ModelChooser | undefined;
  readonly timeoutMs?: number | undefined;
}

type Reason = 'rule' | 'llm' | 'skills' | 'fallback';

export class RouterAgent implements AgentExecutor {
  constructor(private readonly options: RouterOptions) {}

  async execute(ctx: RequestContext, bus: ExecutionEventBus): Promise<void> {
    try {
      if (!(ctx instanceof AgentdRequestContext)) throw new Error('router agents run only inside agentd');
      await this.route(ctx, bus);
    } finally {
      bus.finished();
    }
  }

  async cancelTask(): Promise<void> {}

  private async route(ctx: AgentdRequestContext, bus: ExecutionEventBus): Promise<void> {
    const text = textOf(ctx.userMessage);
    const say = (state: TaskState, words: string | undefined, metadata?: Record<string, unknown>): void =>
      bus.publish({
        kind: 'statusUpdate',
        data: {
          taskId: ctx.taskId,
          contextId: ctx.contextId,
          status: {
            state,
            message: words ? textMessage(Role.ROLE_AGENT, words, ctx) : undefined,
            timestamp: isoNow(),
          },
          metadata,
        },
      });
    // The choice is a step: a re-run after a takeover keeps it (a model may answer otherwise).
    const choice = await ctx.step('route', () => this.choose(text, ctx));
    if (!choice) {
      ctx.runHandle.observeRoute?.(this.options.name, 'none', 'none');
      say(TaskState.TASK_STATE_FAILED, `No agent matches this message (router "${this.options.name}")`, {
        'agentd.router': { target: '', reason: 'none' },
      });
      return;
    }
    const t = choice.target;
    const label = 'agent' in t ? t.agent : 'capability' in t ? `capability:${t.capability}` : t.url;
    ctx.runHandle.observeRoute?.(this.options.name, label, choice.reason);
    say(TaskState.TASK_STATE_WORKING, `routed to ${label}`, {
      'agentd.router': { target: label, reason: choice.reason },
    });
    const outcome = await ctx.call(choice.target, ctx.userMessage, {
      name: `route:${ctx.userMessage.messageId}`,
      ...(this.options.timeoutMs !== undefined ? { timeoutMs: this.options.timeoutMs } : {}),
      onEvent: (event: StreamResponse) => {
        if (event.payload?.$case !== 'artifactUpdate') return;
        bus.publish({
          kind: 'artifactUpdate',
          data: { ...event.payload.value, taskId: ctx.taskId, contextId: ctx.contextId },
        });
      },
    });
    const routed = { 'agentd.router': { target: label, reason: choice.reason, agent: outcome.agent } };
    if (outcome.status === 'completed') say(TaskState.TASK_STATE_COMPLETED, undefined, routed);
    else say(TaskState.TASK_STATE_FAILED, `${outcome.agent}: ${outcome.error ?? outcome.status}`, routed);
  }

  /** Which agent gets the message, and why (see the module comment for the order). */
  private async choose(
    text: string,
    ctx: AgentdRequestContext,
  ): Promise<{ target: ChildTarget; reason: Reason } | null> {
    const words = wordsOf(text);
    for (const rule of this.options.routes) {
      if (!rule.keywords.some((k) => matchesKeyword(text, words, k))) continue;
      const target: ChildTarget = rule.agent ? { agent: rule.agent } : { capability: rule.capability ?? '' };
      return { target, reason: 'rule' };
    }
    const candidates = await this.candidates(ctx);
    if (candidates.length > 0) {
      if (this.options.chooser) {
        const named = await this.options.chooser(text, candidates, ctx.signal).catch((error: unknown) => {
          ctx.logger.warn({ err: error }, 'router model failed; matching skills instead');
          return undefined;
        });
        const picked = candidates.find((c) => c.name === named?.trim());
        if (picked) return { target: { agent: picked.name }, reason: 'llm' };
      }
      const best = bestBySkills(words, candidates);
      if (best) return { target: { agent: best }, reason: 'skills' };
    }
    if (this.options.fallback) return { target: { agent: this.options.fallback }, reason: 'fallback' };
    return null;
  }

  private async candidates(ctx: AgentdRequestContext): Promise<Array<{ name: string; card: AgentCard }>> {
    const listed = (await ctx.runHandle.directory?.()) ?? [];
    const byName = new Map<string, AgentCard>();
    for (const a of listed)
      if (a.name !== this.options.name && !byName.has(a.name)) byName.set(a.name, a.card);
    const allowed = this.options.candidates;
    return [...byName]
      .filter(([name]) => !allowed || allowed.includes(name))
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([name, card]) => ({ name, card }));
  }
}

/** Lower-case words of a text (letters and digits). */
export function wordsOf(text: string): Set<string> {
  return new Set(text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []);
}

/** A keyword matches as a whole word, or as a phrase when it has spaces. */
function matchesKeyword(text: string, words: ReadonlySet<string>, keyword: string): boolean {
  const k = keyword.toLowerCase().trim();
  if (!k) return false;
  return /\s/.test(k) ? text.toLowerCase().includes(k) : words.has(k);
}

/** The candidate whose skills share the most words with the message (none when nothing is shared). */
export function bestBySkills(
  words: ReadonlySet<string>,
  candidates: ReadonlyArray<{ name: string; card: AgentCard }>,
): string | undefined {
  let best: string | undefined;
  let bestScore = 0;
  for (const { name, card } of candidates) {
    const vocabulary = new Set<string>();
    for (const s of card.skills) {
      for (const w of wordsOf([s.id.replace(/[-_]/g, ' '), s.name, ...s.tags, ...s.examples].join(' ')))
        vocabulary.add(w);
    }
    let score = 0;
    for (const w of words) if (w.length > 2 && vocabulary.has(w)) score++;
    if (score > bestScore) {
      best = name;
      bestScore = score;
    }
  }
  return best;
}
