/**
 * Authorization by scope (pure): an agent's `scopes` (all of them) guard sending it messages;
 * a skill's `scopes` add to them when the message names that skill (a data part
 * `{ tool: <skillId> }`, as MCP tool calls send). The admin scope, and `*`, pass everything.
 * In the open mode every caller is ANONYMOUS, which is admin.
 */
import type { Message, SendMessageRequest } from '@a2a-js/sdk';
import type { ServerCallContext } from '@a2a-js/sdk/server';
import { err } from '../errors.js';
import { hasScope, principalOf, type Principal } from './principal.js';

/** The scopes configured for one agent and its skills. */
export interface AgentScopes {
  readonly scopes: readonly string[];
  /** Skill id → its scopes (skills without scopes may be absent). */
  readonly skills: ReadonlyMap<string, readonly string[]>;
}

/** Agent name → its scope rules (agents absent need no scope). */
export type ScopeRules = ReadonlyMap<string, AgentScopes>;

/** Builds the rules from the agents' config entries. */
export function scopeRules(
  agents: ReadonlyArray<{
    name: string;
    scopes: readonly string[];
    skills?: ReadonlyArray<{ id: string; scopes: readonly string[] }> | undefined;
  }>,
): ScopeRules {
  const rules = new Map<string, AgentScopes>();
  for (const a of agents) {
    const skills = new Map((a.skills ?? []).filter((s) => s.scopes.length > 0).map((s) => [s.id, s.scopes]));
    if (a.scopes.length > 0 || skills.size > 0) rules.set(a.name, { scopes: a.scopes, skills });
  }
  return rules;
}

/** The scopes of `required` the principal lacks (none for the admin). */
export function missingScopes(principal: Principal, required: readonly string[]): string[] {
  if (principal.admin) return [];
  return required.filter((s) => !hasScope(principal, s));
}

/** Whether the principal may send messages to the agent at all (its agent-level scopes). */
export function mayUseAgent(rules: ScopeRules, principal: Principal, agent: string): boolean {
  const r = rules.get(agent);
  return !r || missingScopes(principal, r.scopes).length === 0;
}

/** The skill a message names (a data part `{ tool: <skillId> }`), if any. */
export function namedSkill(message: Message | undefined): string | undefined {
  for (const part of message?.parts ?? []) {
    const c = part.content;
    if (c?.$case === 'data') {
      const tool = (c.value as Record<string, unknown> | undefined)?.tool;
      if (typeof tool === 'string') return tool;
    }
  }
  return undefined;
}

/**
 * The engine's `authorizeMessage` hook: throws PERMISSION_DENIED naming the missing scopes
 * when the caller may not send this message to this agent.
 */
export function messageAuthorizer(
  rules: ScopeRules,
): (agent: { readonly name: string }, params: SendMessageRequest, ctx: ServerCallContext) => void {
  return (agent, params, ctx) => {
    const r = rules.get(agent.name);
    if (!r) return;
    const principal = principalOf(ctx);
    const skill = namedSkill(params.message);
    const required = skill ? [...r.scopes, ...(r.skills.get(skill) ?? [])] : r.scopes;
    const missing = missingScopes(principal, required);
    if (missing.length > 0) {
      throw err(
        'PERMISSION_DENIED',
        `Agent "${agent.name}"${skill && r.skills.has(skill) ? ` (skill "${skill}")` : ''} requires the scope(s) ${missing.join(', ')}`,
        { agent: agent.name, scopes: missing.join(' ') },
      );
    }
  };
}
