/**
 * The options every command that calls an agent takes: credentials (`--api-key`, `--token`,
 * or AGENTD_API_KEY / AGENTD_TOKEN) and TLS (`--ca`, `--cert`, `--key`).
 */
import { Option, type Command } from 'commander';
import { Outbound } from '../security/outbound.js';
import { UsageError } from './args.js';

/** What those options parse to. */
export interface ClientArgs {
  readonly apiKey?: string;
  readonly token?: string;
  readonly ca?: string;
  readonly cert?: string;
  readonly key?: string;
}

/** Adds the credential and TLS options to `command`; returns it for chaining. */
export function clientOptions(command: Command): Command {
  return command
    .addOption(new Option('--api-key <key>', 'API key to send as X-API-Key (env AGENTD_API_KEY)'))
    .addOption(
      new Option('--token <jwt>', 'bearer token to send as Authorization: Bearer (env AGENTD_TOKEN)'),
    )
    .option('--ca <file>', 'PEM CA bundle to trust for the agent’s certificate (besides the system CAs)')
    .option('--cert <file>', 'PEM client certificate to present (mTLS; with --key)')
    .option('--key <file>', 'PEM private key of --cert');
}

/** The TLS of `--ca/--cert/--key` (Outbound.none without them); bad files are usage errors naming the option. */
export async function outboundFromArgs(opts: ClientArgs): Promise<Outbound> {
  if (Boolean(opts.cert) !== Boolean(opts.key)) throw new UsageError('--cert and --key go together');
  if (!opts.ca && !opts.cert) return Outbound.none;
  try {
    return await Outbound.create({ caFile: opts.ca, certFile: opts.cert, keyFile: opts.key });
  } catch (error) {
    throw new UsageError(
      (error as Error).message.replace(
        /^outbound\.(caFile|certFile|keyFile)/,
        (_m, f: string) => ({ caFile: '--ca', certFile: '--cert', keyFile: '--key' })[f] ?? f,
      ),
    );
  }
}
