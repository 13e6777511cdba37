import type { AgentCard, AgentInterface, AgentSkill } from '@a2a-js/sdk';
import type { AuthSchemes } from '../security/authenticator.js';
import { cardSecurity } from '../security/card-security.js';
import type { AgentExecutor } from '@a2a-js/sdk/server';
import { duplicateInterfacesForLegacy } from '@a2a-js/sdk/compat/v0_3';
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Logger } from 'pino';
import type { AgentConfig, SkillConfig } from '../config/schema.js';
import { describeSecret, readSecret } from '../config/secrets.js';
import type { HostedAgent } from '../engine/hosted-agent.js';
import type { McpPool } from '../mcp/mcp-pool.js';
import { CountdownAgent } from './countdown-agent.js';
import { EchoAgent } from './echo-agent.js';
import { isCardContributor, ToolsAgent } from './tools-agent.js';

/** Raised when an agent cannot be built from its config entry (bad module, bad export). */
export class AgentLoadError extends Error {
  override readonly name = 'AgentLoadError';
}

/** What building agents needs besides their config entry. */
export interface AgentBuildContext {
  /** Directory relative paths (modules, secret files) resolve against. */
  readonly baseDir: string;
  /** The MCP client pool, when MCP servers are configured. */
  readonly mcp?: McpPool | undefined;
  readonly logger?: Logger | undefined;
  readonly env?: NodeJS.ProcessEnv | undefined;
}

/**
 * Builds the executor for a config entry; `module` agents are imported from disk. Resolves
 * `undefined` for an agent that cannot run here and is skipped with a log line (an `llm`
 * agent without an API key).
 */
export async function createExecutor(
  config: AgentConfig,
  build: AgentBuildContext,
): Promise<AgentExecutor | undefined> {
  switch (config.kind) {
    case 'echo':
      return new EchoAgent();
    case 'countdown':
      return new CountdownAgent({ stepMs: config.stepMs, maxCount: config.maxCount });
    case 'module':
      return loadModuleExecutor(config.name, config.module, config.export, config.options, build.baseDir);
    case 'tools':
      if (!build.mcp) throw new AgentLoadError(`agent "${config.name}": no MCP servers are configured`);
      return new ToolsAgent(build.mcp, { servers: config.servers, tools: config.tools });
    case 'llm': {
      const apiKey = readSecret(config.apiKey, build.baseDir, build.env ?? process.env);
      if (apiKey === undefined) {
        build.logger?.warn(
          { agent: config.name },
          `llm agent "${config.name}" not started: no API key (${describeSecret(config.apiKey)} is not set)`,
        );
        return undefined;
      }
      // The AI SDK is loaded only when an llm agent runs.
      const { LlmAgent } = await import('./llm-agent.js');
      return new LlmAgent(build.mcp, {
        name: config.name,
        baseUrl: config.baseUrl,
        model: config.model,
        apiKey,
        system: config.system,
        maxSteps: config.maxSteps,
        ...(config.maxOutputTokens !== undefined ? { maxOutputTokens: config.maxOutputTokens } : {}),
        ...(config.temperature !== undefined ? { temperature: config.temperature } : {}),
        servers: config.servers,
        ...(config.tools ? { tools: config.tools } : {}),
      });
    }
    case 'workflow': {
      const { WorkflowAgent } = await import('../workflow/workflow-agent.js');
      const { WorkflowPlan } = await import('../workflow/plan.js');
      return new WorkflowAgent({
        name: config.name,
        plan: WorkflowPlan.from(config),
        relayArtifacts: config.relayArtifacts,
      });
    }
    case 'router': {
      const { RouterAgent } = await import('./router-agent.js');
      let chooser;
      if (config.llm) {
        const apiKey = readSecret(config.llm.apiKey, build.baseDir, build.env ?? process.env);
        if (apiKey === undefined)
          build.logger?.warn(
            { agent: config.name },
            `router "${config.name}" chooses by skills: no API key for its model (${describeSecret(config.llm.apiKey)} is not set)`,
          );
        else
          chooser = (await import('./router-chooser.js')).modelChooser({
            router: config.name,
            baseUrl: config.llm.baseUrl,
            model: config.llm.model,
            apiKey: apiKey === 'none' ? '' : apiKey,
          });
      }
      return new RouterAgent({
        name: config.name,
        routes: config.routes,
        candidates: config.candidates,
        fallback: config.fallback,
        chooser,
        timeoutMs: config.timeoutSeconds !== undefined ? config.timeoutSeconds * 1000 : undefined,
      });
    }
  }
}

/**
 * Loads an `@a2a-js/sdk` AgentExecutor from an ES module. The named export may be an
 * executor instance, a class (constructed with `options`), or a factory function
 * (called with `options`, may be async).
 */
async function loadModuleExecutor(
  agent: string,
  modulePath: string,
  exportName: string,
  options: Record<string, unknown>,
  baseDir: string,
): Promise<AgentExecutor> {
  const file = isAbsolute(modulePath) ? modulePath : resolve(baseDir, modulePath);
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  } catch (error) {
    throw new AgentLoadError(`agent "${agent}": cannot import module ${file}: ${(error as Error).message}`);
  }
  const exported = mod[exportName];
  if (exported === undefined) {
    throw new AgentLoadError(
      `agent "${agent}": module ${file} has no export "${exportName}" (exports: ${Object.keys(mod).join(', ') || 'none'})`,
    );
  }
  let candidate: unknown = exported;
  if (typeof exported === 'function') {
    const fn = exported as { prototype?: { execute?: unknown } } & ((...a: unknown[]) => unknown);
    candidate =
      typeof fn.prototype?.execute === 'function'
        ? new (exported as new (o: unknown) => unknown)(options)
        : await fn(options);
  }
  if (!isExecutor(candidate)) {
    throw new AgentLoadError(
      `agent "${agent}": export "${exportName}" of ${file} is not an AgentExecutor (needs execute() and cancelTask())`,
    );
  }
  return candidate;
}

function isExecutor(value: unknown): value is AgentExecutor {
  const v = value as Partial<AgentExecutor> | null;
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof v.execute === 'function' &&
    typeof v.cancelTask === 'function'
  );
}

/**
 * URLs at which one agent is served, derived from the server's public base URL. The
 * agent base URL ends with `/` so that the SDK's `createFromUrl(base)`, which resolves
 * the relative `.well-known/agent-card.json` against it, finds this agent's card.
 */
export function agentUrls(baseUrl: string, name: string): { jsonRpc: string; rest: string; card: string } {
  const root = `${baseUrl.replace(/\/+$/, '')}/a2a/${encodeURIComponent(name)}/`;
  return { jsonRpc: root, rest: `${root}rest`, card: `${root}.well-known/agent-card.json` };
}

/** Where this server serves A2A: the HTTP base URL and, when gRPC is on, its `host:port`. */
export interface Endpoints {
  readonly baseUrl: string;
  /** The authentication schemes the server accepts (declared on the cards); none when absent. */
  readonly authSchemes?: AuthSchemes | undefined;
  /** JSON-RPC and HTTP+JSON are served. */
  readonly http: boolean;
  /** gRPC `host:port`, when gRPC is served. */
  readonly grpcAddress: string | undefined;
  /** v0.3 compat is on. */
  readonly compatV03: boolean;
  /**
   * The default agent's name: v0.3 gRPC has no tenant, so it reaches only that agent, and
   * only its card lists gRPC for v0.3 clients.
   */
  readonly defaultAgent?: string | undefined;
}

/**
 * The agent's public card: every transport it is reachable on. With v0.3 compat the
 * JSON-RPC and HTTP+JSON interfaces are listed again stamped `protocolVersion: 0.3`, so the
 * SDK's compat client finds them and the card route can add the v0.3 card fields. On gRPC,
 * agents share one port and are told apart by `tenant`.
 */
export function buildCard(
  config: AgentConfig,
  endpoints: Endpoints,
  hasExtendedCard: boolean,
  executor?: AgentExecutor,
): AgentCard {
  const contributor = isCardContributor(executor) ? executor : undefined;
  const { baseUrl } = endpoints;
  const urls = agentUrls(baseUrl, config.name);
  const interfaces: AgentInterface[] = [];
  if (endpoints.http) {
    interfaces.push(
      { url: urls.jsonRpc, protocolBinding: 'JSONRPC', tenant: '', protocolVersion: '1.0' },
      { url: urls.rest, protocolBinding: 'HTTP+JSON', tenant: '', protocolVersion: '1.0' },
    );
  }
  if (endpoints.grpcAddress) {
    interfaces.push({
      url: endpoints.grpcAddress,
      protocolBinding: 'GRPC',
      tenant: config.name,
      protocolVersion: '1.0',
    });
  }
  return {
    name: config.name,
    description: config.description || `agentd ${config.kind} agent`,
    supportedInterfaces: endpoints.compatV03
      ? duplicateInterfacesForLegacy(
          interfaces,
          endpoints.defaultAgent === config.name
            ? ['JSONRPC', 'HTTP+JSON', 'GRPC']
            : ['JSONRPC', 'HTTP+JSON'],
        )
      : interfaces,
    provider: { organization: 'agentd', url: baseUrl },
    version: config.version,
    documentationUrl: undefined,
    capabilities: {
      streaming: config.streaming,
      pushNotifications: config.pushNotifications,
      extensions: contributor?.cardExtensions() ?? [],
      extendedAgentCard: hasExtendedCard,
    },
    ...(endpoints.authSchemes
      ? cardSecurity(endpoints.authSchemes, config.scopes)
      : { securitySchemes: {}, securityRequirements: [] }),
    defaultInputModes: ['text/plain', 'application/json'],
    defaultOutputModes: ['text/plain', 'application/json'],
    skills: contributor
      ? [...contributor.cardSkills(), ...(config.skills ?? []).map(toSkill)]
      : (
          config.skills ?? [
            {
              id: config.kind,
              name: config.name,
              description: '',
              tags: [config.kind],
              examples: [],
              scopes: [],
            },
          ]
        ).map(toSkill),
    signatures: [],
    iconUrl: undefined,
  };
}

/**
 * Builds a hosted agent from config (the card gets its URLs when the server listens), or
 * `undefined` when the agent is skipped (see {@link createExecutor}).
 */
export async function createHostedAgent(
  config: AgentConfig,
  build: AgentBuildContext,
): Promise<HostedAgent | undefined> {
  const executor = await createExecutor(config, build);
  if (!executor) return undefined;
  return {
    name: config.name,
    executor,
    card: buildCard(
      config,
      { baseUrl: 'http://127.0.0.1', http: true, grpcAddress: undefined, compatV03: false },
      false,
      executor,
    ),
    extendedCard: undefined,
  };
}

/** Sets the agent's card (and extended card) for the server's public base URL. */
export function publishCards(agent: HostedAgent, config: AgentConfig, endpoints: Endpoints): void {
  const extended = config.extendedCard;
  agent.card = buildCard(config, endpoints, extended !== undefined, agent.executor);
  agent.extendedCard = extended
    ? {
        ...agent.card,
        description: extended.description ?? agent.card.description,
        skills: extended.skills ? [...agent.card.skills, ...extended.skills.map(toSkill)] : agent.card.skills,
      }
    : undefined;
}

function toSkill(s: SkillConfig): AgentSkill {
  return {
    id: s.id,
    name: s.name,
    description: s.description,
    tags: s.tags,
    examples: s.examples,
    inputModes: [],
    outputModes: [],
    securityRequirements: [],
  };
}
