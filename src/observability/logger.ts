import { createRequire } from 'node:module';
import { pino, type DestinationStream, type Logger, type LevelWithSilent } from 'pino';

/**
 * Paths whose values never reach a log line: credentials in headers, and any field named
 * like a secret at any depth pino redaction reaches (one level of nesting).
 */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers["x-api-key"]',
  'headers.authorization',
  'headers["x-api-key"]',
  '*.authorization',
  '*.Authorization',
  '*["x-api-key"]',
  '*.token',
  '*.password',
  '*.secret',
  '*.apiKey',
  '*.api_key',
  '*.credentials',
];

/**
 * The process logger: JSON lines on stdout (or the given destination), pretty-printed
 * when stdout is a terminal. pino-pretty is loaded only then.
 */
export function createLogger(
  level: LevelWithSilent,
  destination?: NodeJS.WritableStream,
  /** Fields on every line besides `service` (the server's `region`). */
  fields: Record<string, string> = {},
): Logger {
  const options = {
    level,
    base: { service: 'agentd', ...fields },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    formatters: { level: (label: string) => ({ level: label }) },
  };
  if (destination) return pino(options, destination);
  if (process.stdout.isTTY) {
    const pretty = createRequire(import.meta.url)('pino-pretty') as (o: object) => DestinationStream;
    return pino(
      options,
      pretty({ colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,service' }),
    );
  }
  return pino(options);
}

/** A URL without credentials or query string (webhooks, Redis), safe for logs. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return '<invalid url>';
  }
}
