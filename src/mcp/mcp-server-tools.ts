import type { Tool } from '@modelcontextprotocol/client';
import type { AjvJsonSchemaValidator } from '@modelcontextprotocol/client/validators/ajv';
import type { Logger } from 'pino';

/** A tool of a connected MCP server, with its compiled input validator. */
export interface McpTool {
  readonly server: string;
  readonly name: string;
  readonly definition: Tool;
  /** Checks arguments against the tool's input schema; returns the problem, or undefined. */
  readonly check: (args: Record<string, unknown>) => string | undefined;
}

/**
 * A server's listed tools by name, each with its input schema compiled. A schema that does
 * not compile is logged and leaves that tool's arguments unchecked here (the server still
 * validates them).
 */
export function compileTools(
  server: string,
  tools: readonly Tool[],
  validator: AjvJsonSchemaValidator,
  logger: Logger,
): Map<string, McpTool> {
  const next = new Map<string, McpTool>();
  for (const t of tools) {
    let validate: ((a: unknown) => { valid: boolean; errorMessage?: string | undefined }) | undefined;
    try {
      validate = validator.getValidator(t.inputSchema as never);
    } catch (error) {
      logger.warn(
        { mcp_server: server, tool: t.name, err: error },
        'MCP tool input schema does not compile; its arguments are not validated locally',
      );
    }
    next.set(t.name, {
      server,
      name: t.name,
      definition: t,
      check: (args) => {
        const r = validate?.(args);
        return r && !r.valid ? friendlySchemaError(r.errorMessage ?? 'invalid arguments') : undefined;
      },
    });
  }
  return next;
}

/** Whether a fresh tool list differs from the previous one (names or definitions). */
export function toolsChanged(
  previous: ReadonlyMap<string, McpTool>,
  next: ReadonlyMap<string, McpTool>,
): boolean {
  return (
    next.size !== previous.size ||
    [...next.values()].some((t) => {
      const old = previous.get(t.name)?.definition;
      return !old || JSON.stringify(old) !== JSON.stringify(t.definition);
    })
  );
}

/** Ajv's "data/a must be number, data must have required property 'b'" as "argument "a" must be number; ...". */
export function friendlySchemaError(message: string): string {
  return message
    .split(/,\s(?=data|\/)/)
    .map((m) =>
      m
        .replace(/^data must have required property '([^']+)'/, 'missing required argument "$1"')
        .replace(/^data\/([^\s]+) /, (_, path: string) => `argument "${path.replace(/\//g, '.')}" `)
        .replace(/^data /, 'arguments '),
    )
    .join('; ');
}
