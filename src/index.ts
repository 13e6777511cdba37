/**
 * agentd's public API: embed the server, host SDK executors, or reuse the engine.
 */
export { AgentdServer, type ServerStats } from './server/agentd-server.js';
export { loadConfig, ConfigError, type LoadedConfig, type ConfigFlags } from './config/load-config.js';
export { configSchema, type AgentdConfig, type AgentConfig } from './config/schema.js';
export { TaskEngine, type EngineStats, type StreamRecord } from './engine/task-engine.js';
export { AgentRequestHandler } from './engine/agent-request-handler.js';
export { AgentdRequestContext, type HostedAgent } from './engine/hosted-agent.js';
export type { AgentCaller, BreakerState, CallOptions } from './engine/agent-caller.js';
export type { PeerPicker, PickStrategy } from './engine/peer-picker.js';
export { AgentdError, ERROR_CATALOGUE, type ErrorCode } from './errors.js';
export type {
  StateStore,
  TaskStore,
  EventLog,
  PushConfigStore,
  StoredTask,
  TaskEventRecord,
  RateLimiter,
  RateDecision,
  OwnerQuota,
  CountedTask,
  StoreBackup,
  TaskBackup,
} from './store/ports.js';
export { MemoryStateStore } from './store/memory/memory-state-store.js';
export { createLogger } from './observability/logger.js';
