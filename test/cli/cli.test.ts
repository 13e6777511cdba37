import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT, runCli } from '../../src/cli/main.js';
import { startServer, type TestServer } from '../helpers/server.js';

interface Captured {
  readonly stream: Writable;
  text(): string;
}

/** A Writable that keeps what was written; `onLine` sees each completed line as it arrives. */
function capture(onLine?: (line: string) => void): Captured {
  let text = '';
  let partial = '';
  const stream = new Writable({
    write(chunk: Buffer | string, _enc, cb) {
      const s = chunk.toString();
      text += s;
      partial += s;
      const lines = partial.split('\n');
      partial = lines.pop() ?? '';
      for (const l of lines) onLine?.(l);
      cb();
    },
  });
  return { stream, text: () => text };
}

interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

async function cli(
  argv: string[],
  options: { env?: NodeJS.ProcessEnv; onLine?: (line: string) => void } = {},
): Promise<CliResult> {
  const out = capture(options.onLine);
  const err = capture();
  const code = await runCli(argv, { stdout: out.stream, stderr: err.stream, env: options.env ?? {} });
  return { code, stdout: out.text(), stderr: err.text() };
}

function lines(s: string): string[] {
  return s.split('\n').filter((l) => l.length > 0);
}

let t: TestServer;
let echo: string;
let countdown: string;
let tmp: string;

beforeAll(async () => {
  t = await startServer();
  echo = t.agentUrl('echo');
  countdown = t.agentUrl('countdown');
  tmp = mkdtempSync(join(tmpdir(), 'agentd-cli-'));
});
afterAll(async () => {
  await t.close();
  rmSync(tmp, { recursive: true, force: true });
});

describe('agentd send', () => {
  it('prints the task with the echoed artifact', async () => {
    const r = await cli(['send', echo, 'hello']);
    expect(r.code).toBe(EXIT.OK);
    expect(r.stderr).toBe('');
    const out = lines(r.stdout);
    expect(out[0]).toMatch(/^task \S+ \(context \S+\): completed$/);
    expect(out).toContain('  artifact echo: hello');
  });

  it('accepts the card URL itself as well as the agent base URL', async () => {
    const r = await cli(['send', `${echo}.well-known/agent-card.json`, 'via card']);
    expect(r.code).toBe(EXIT.OK);
    expect(r.stdout).toContain('artifact echo: via card');
  });

  it('--stream prints the countdown events in order', async () => {
    const r = await cli(['send', '--stream', countdown, 'count to 3']);
    expect(r.code).toBe(EXIT.OK);
    const out = lines(r.stdout);
    expect(out[0]).toMatch(/^\[task\] \S+ submitted$/);
    expect(out.slice(1)).toEqual([
      '[working] Counting to 3',
      '[artifact count] 1',
      '[working] 1/3',
      '[artifact count +] 2',
      '[working] 2/3',
      '[artifact count +] 3',
      '[completed] Counted to 3',
    ]);
  });

  it('--json prints one parseable A2A Task', async () => {
    const r = await cli(['send', '--json', echo, 'json please']);
    expect(r.code).toBe(EXIT.OK);
    const out = lines(r.stdout);
    expect(out).toHaveLength(1);
    const task = JSON.parse(out[0] as string) as {
      id: string;
      status: { state: string };
      artifacts: Array<{ parts: Array<{ text?: string }> }>;
    };
    expect(task.id).toMatch(/\S/);
    expect(task.status.state).toBe('TASK_STATE_COMPLETED');
    expect(task.artifacts[0]?.parts[0]?.text).toBe('json please');
  });

  it('--stream --json prints one parseable StreamResponse per line, ending COMPLETED', async () => {
    const r = await cli(['send', '--stream', '--json', countdown, 'count to 2']);
    expect(r.code).toBe(EXIT.OK);
    const events = lines(r.stdout).map(
      (l) => JSON.parse(l) as Record<string, { status?: { state: string } }>,
    );
    expect(Object.keys(events[0] ?? {})).toEqual(['task']);
    expect(events.filter((e) => 'artifactUpdate' in e)).toHaveLength(2);
    expect(events.at(-1)?.statusUpdate?.status?.state).toBe('TASK_STATE_COMPLETED');
  });

  it('--transport rest uses the HTTP+JSON binding, for send and for --stream', async () => {
    const r = await cli(['send', '--transport', 'rest', echo, 'over rest']);
    expect(r.code).toBe(EXIT.OK);
    expect(r.stdout).toContain('artifact echo: over rest');
    const s = await cli(['send', '-t', 'rest', '--stream', countdown, 'count to 2']);
    expect(s.code).toBe(EXIT.OK);
    expect(lines(s.stdout).at(-1)).toBe('[completed] Counted to 2');
  });

  it('--transport grpc reaches the agent over gRPC from its card alone', async () => {
    const r = await cli(['send', '--transport', 'grpc', echo, 'over grpc']);
    expect(r.code).toBe(EXIT.OK);
    expect(r.stdout).toContain('completed');
    expect(r.stdout).toContain('artifact echo: over grpc');
  });

  it('--transport grpc fails clearly when the card offers no GRPC interface', async () => {
    const httpOnly = await startServer({ server: { transport: 'http' } });
    try {
      const r = await cli(['send', '--transport', 'grpc', httpOnly.agentUrl('echo'), 'hello']);
      expect(r.code).toBe(EXIT.ERROR);
      expect(r.stdout).toBe('');
      expect(r.stderr).toContain('does not offer GRPC');
      expect(r.stderr).toContain('JSONRPC');
      expect(r.stderr).toContain('HTTP+JSON');
    } finally {
      await httpOnly.close();
    }
  });

  it('an unknown transport name is a usage error', async () => {
    const r = await cli(['send', '--transport', 'carrier-pigeon', echo, 'hello']);
    expect(r.code).toBe(EXIT.USAGE);
    expect(r.stderr).toContain('carrier-pigeon');
  });

  it('--no-wait returns the task before it finishes', async () => {
    const r = await cli(['send', '--no-wait', '--json', countdown, 'count to 1000']);
    expect(r.code).toBe(EXIT.OK);
    const task = JSON.parse(r.stdout) as { id: string; status: { state: string } };
    expect(['TASK_STATE_SUBMITTED', 'TASK_STATE_WORKING']).toContain(task.status.state);
    expect((await cli(['tasks', 'cancel', countdown, task.id])).code).toBe(EXIT.OK);
  });

  it('--task continues a task that asked for input', async () => {
    const first = await cli(['send', '--json', countdown, 'count to 4 and ask me']);
    expect(first.code).toBe(EXIT.OK);
    const paused = JSON.parse(first.stdout) as { id: string; status: { state: string } };
    expect(paused.status.state).toBe('TASK_STATE_INPUT_REQUIRED');
    const second = await cli(['send', '--task', paused.id, countdown, 'go on']);
    expect(second.code).toBe(EXIT.OK);
    expect(lines(second.stdout)[0]).toMatch(new RegExp(`^task ${paused.id} \\(context \\S+\\): completed$`));
    expect(second.stdout).toContain('  artifact count:\n    1\n    2\n    3\n    4');
  });

  it('prints a multi-line artifact indented under its heading', async () => {
    const r = await cli(['send', countdown, 'count to 3']);
    expect(r.code).toBe(EXIT.OK);
    expect(lines(r.stdout).slice(1)).toEqual([
      '  Counted to 3',
      '  artifact count:',
      '    1',
      '    2',
      '    3',
    ]);
  });

  it('accepts a URL without http://', async () => {
    const bare = echo.replace(/^http:\/\//, '');
    expect(bare).toMatch(/^127\.0\.0\.1:\d+\/a2a\/echo\/$/);
    for (const url of [bare, bare.replace('127.0.0.1', 'localhost')]) {
      const r = await cli(['send', url, 'no scheme']);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(EXIT.OK);
      expect(r.stdout).toContain('artifact echo: no scheme');
    }
  });

  it('a URL of another scheme is a usage error that says what to type', async () => {
    const r = await cli(['send', 'ftp://localhost:8080/a2a/echo/', 'hello']);
    expect(r.code).toBe(EXIT.USAGE);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('agents are reached over http:// or https://');
    expect(r.stderr).toContain('e.g. http://localhost:8080/a2a/echo/');
  });

  it("an unknown agent exits 1 with the server's message", async () => {
    const r = await cli(['send', `${t.url}/a2a/ehco/`, 'hello']);
    expect(r.code).toBe(EXIT.ERROR);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('error: No agent named "ehco" on this server (agents: echo, countdown)');
    expect(r.stderr).toContain('HTTP 404');
  });

  it('exits 1 and says so when the streamed task ends other than completed', async () => {
    let taskId: (id: string) => void = () => {};
    const seen = new Promise<string>((resolve) => (taskId = resolve));
    const sending = cli(['send', '--stream', countdown, 'count to 1000'], {
      onLine: (line) => {
        const m = /^\[task\] (\S+)/.exec(line);
        if (m?.[1]) taskId(m[1]);
      },
    });
    const cancel = await cli(['tasks', 'cancel', countdown, await seen]);
    expect(cancel.code).toBe(EXIT.OK);
    const r = await sending;
    expect(r.code).toBe(EXIT.ERROR);
    expect(lines(r.stdout).at(-1)).toBe('[canceled]');
    expect(r.stderr).toContain('task ended canceled');
  });

  it('an unreachable server fails with exit code 1 and a readable message', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as AddressInfo;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const r = await cli(['send', `http://127.0.0.1:${port}/a2a/echo/`, 'hello']);
    expect(r.code).toBe(EXIT.ERROR);
    expect(r.stderr).toContain('cannot reach');
  });
});

describe('agent card requests', () => {
  let recorder: Server;
  let recorderUrl: string;
  const seen: Array<{ url: string; version: string | undefined }> = [];
  beforeAll(async () => {
    // Serves the real echo card (whose interfaces point at the test server) and records
    // the headers of each request.
    const card = await (await fetch(`${echo}.well-known/agent-card.json`)).text();
    recorder = createServer((req, res) => {
      const version = req.headers['a2a-version'];
      seen.push({ url: req.url ?? '', version: Array.isArray(version) ? version[0] : version });
      res.setHeader('content-type', 'application/json');
      res.end(card);
    });
    await new Promise<void>((resolve) => recorder.listen(0, '127.0.0.1', resolve));
    recorderUrl = `http://127.0.0.1:${(recorder.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => recorder.close(() => resolve())));

  it('send the A2A-Version: 1.0 header (card, and the connection send and tasks make)', async () => {
    const card = await cli(['card', `${recorderUrl}/agent/`]);
    expect(card.code).toBe(EXIT.OK);
    expect(card.stdout).toContain('echo 1.0.0');
    const sent = await cli(['send', `${recorderUrl}/agent/`, 'via the recorder']);
    expect(sent.code).toBe(EXIT.OK);
    expect(sent.stdout).toContain('artifact echo: via the recorder');
    expect(seen).toEqual([
      { url: '/agent/.well-known/agent-card.json', version: '1.0' },
      { url: '/agent/.well-known/agent-card.json', version: '1.0' },
    ]);
  });
});

describe('agentd card', () => {
  let notACard: Server;
  let notACardUrl: string;
  beforeAll(async () => {
    notACard = createServer((req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(req.url === '/broken.json' ? '{"not json' : JSON.stringify({ hello: 'world' }));
    });
    await new Promise<void>((resolve) => notACard.listen(0, '127.0.0.1', resolve));
    notACardUrl = `http://127.0.0.1:${(notACard.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => notACard.close(() => resolve())));

  it('prints the name, interfaces and skills', async () => {
    const r = await cli(['card', echo]);
    expect(r.code).toBe(EXIT.OK);
    const out = lines(r.stdout);
    expect(out[0]).toBe(`echo 1.0.0  (${echo}.well-known/agent-card.json)`);
    expect(r.stdout).toContain('capabilities: streaming=true');
    const interfaces = out.slice(out.indexOf('  interfaces:') + 1, out.indexOf('  skills:'));
    expect(interfaces.some((l) => /^\s+JSONRPC\s+v1\.0\s+/.test(l) && l.endsWith(echo))).toBe(true);
    expect(interfaces.some((l) => /^\s+HTTP\+JSON\s+v1\.0\s+/.test(l) && l.endsWith(`${echo}rest`))).toBe(
      true,
    );
    expect(out.slice(out.indexOf('  skills:') + 1)).toEqual(['    echo: echo [echo]']);
  });

  it('--json prints the card as JSON', async () => {
    const r = await cli(['card', '--json', countdown]);
    expect(r.code).toBe(EXIT.OK);
    const card = JSON.parse(r.stdout) as {
      name: string;
      supportedInterfaces: Array<{ protocolBinding: string }>;
    };
    expect(card.name).toBe('countdown');
    expect(card.supportedInterfaces.map((i) => i.protocolBinding)).toContain('HTTP+JSON');
  });

  it('a URL with no card behind it fails clearly', async () => {
    const r = await cli(['card', `${t.url}/nothing-here/`]);
    expect(r.code).toBe(EXIT.ERROR);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(`${t.url}/nothing-here/.well-known/agent-card.json`);
    expect(r.stderr).toContain('404');
  });

  it('JSON that is not an agent card fails clearly', async () => {
    const r = await cli(['card', `${notACardUrl}/card.json`]);
    expect(r.code).toBe(EXIT.ERROR);
    expect(r.stderr).toContain('is not a valid A2A v1.0 agent card');
    expect(r.stderr).toContain('name is missing');
  });

  it('a body that is not JSON fails clearly', async () => {
    const r = await cli(['card', `${notACardUrl}/broken.json`]);
    expect(r.code).toBe(EXIT.ERROR);
    expect(r.stderr).toContain('did not return JSON');
  });
});

describe('agentd tasks', () => {
  it('list shows the tasks of a context, with filters and pages', async () => {
    const context = randomUUID();
    for (const text of ['one', 'two', 'three']) {
      expect((await cli(['send', '--context', context, echo, text])).code).toBe(EXIT.OK);
    }
    const all = await cli(['tasks', 'list', echo, '--context', context]);
    expect(all.code).toBe(EXIT.OK);
    const rows = lines(all.stdout);
    expect(rows.at(-1)).toBe('3 of 3 task(s)');
    expect(
      rows.slice(0, -1).every((l) => /^\S+\s+completed\s+\S+\s+context /.test(l) && l.endsWith(context)),
    ).toBe(true);

    const completed = await cli(['tasks', 'list', echo, '--context', context, '--status', 'completed']);
    expect(lines(completed.stdout).at(-1)).toBe('3 of 3 task(s)');
    const working = await cli([
      'tasks',
      'list',
      echo,
      '--context',
      context,
      '--status',
      'TASK_STATE_WORKING',
    ]);
    expect(lines(working.stdout)).toEqual(['0 of 0 task(s)']);

    const first = await cli(['tasks', 'list', echo, '--context', context, '--page-size', '2', '--json']);
    const page1 = JSON.parse(first.stdout) as {
      tasks: Array<{ id: string }>;
      nextPageToken: string;
      totalSize: number;
    };
    expect(page1.tasks).toHaveLength(2);
    expect(page1.totalSize).toBe(3);
    expect(page1.nextPageToken).not.toBe('');
    const second = await cli([
      'tasks',
      'list',
      echo,
      '--context',
      context,
      '--page-size',
      '2',
      '--page-token',
      page1.nextPageToken,
      '--json',
      '-t',
      'rest',
    ]);
    const page2 = JSON.parse(second.stdout) as { tasks: Array<{ id: string }>; nextPageToken: string };
    expect(page2.tasks).toHaveLength(1);
    expect(page2.nextPageToken).toBe('');
    const ids = [...page1.tasks, ...page2.tasks].map((x) => x.id);
    expect(new Set(ids).size).toBe(3);
    for (const id of ids) expect(all.stdout).toContain(id);
  });

  it('list with an unknown --status fails clearly', async () => {
    const r = await cli(['tasks', 'list', echo, '--status', 'sleepy']);
    expect(r.code).toBe(EXIT.ERROR);
    expect(r.stderr).toContain('unknown task state "sleepy"');
  });

  it('get shows one task, over either transport', async () => {
    const sent = JSON.parse((await cli(['send', '--json', echo, 'remember me'])).stdout) as { id: string };
    for (const transport of ['jsonrpc', 'rest']) {
      const r = await cli(['tasks', 'get', echo, sent.id, '-t', transport]);
      expect(r.code).toBe(EXIT.OK);
      expect(lines(r.stdout)[0]).toMatch(new RegExp(`^task ${sent.id} \\(context \\S+\\): completed$`));
      expect(r.stdout).toContain('artifact echo: remember me');
    }
    const counted = JSON.parse((await cli(['send', '--json', countdown, 'count to 2'])).stdout) as {
      id: string;
    };
    const got = await cli(['tasks', 'get', countdown, counted.id]);
    expect(lines(got.stdout).slice(1)).toEqual(['  Counted to 2', '  artifact count:', '    1', '    2']);
    const json = JSON.parse(
      (await cli(['tasks', 'get', echo, sent.id, '--json', '--history-length', '0'])).stdout,
    ) as {
      id: string;
      history?: unknown[];
    };
    expect(json.id).toBe(sent.id);
    expect(json.history ?? []).toEqual([]);
  });

  it('get of an unknown task exits 1 with the reason', async () => {
    const r = await cli(['tasks', 'get', echo, 'no-such-task']);
    expect(r.code).toBe(EXIT.ERROR);
    expect(r.stderr.toLowerCase()).toContain('not found');
  });

  it('cancel cancels a running task; cancelling it again answers the canceled task', async () => {
    const started = JSON.parse(
      (await cli(['send', '--no-wait', '--json', countdown, 'count to 1000'])).stdout,
    ) as { id: string };
    const r = await cli(['tasks', 'cancel', countdown, started.id]);
    expect(r.code).toBe(EXIT.OK);
    expect(lines(r.stdout)[0]).toMatch(new RegExp(`^task ${started.id} .*: canceled$`));
    const got = await cli(['tasks', 'get', countdown, started.id, '--json']);
    expect((JSON.parse(got.stdout) as { status: { state: string } }).status.state).toBe(
      'TASK_STATE_CANCELED',
    );
    const again = await cli(['tasks', 'cancel', countdown, started.id, '-t', 'rest']);
    expect(again.code).toBe(EXIT.OK);
    expect(lines(again.stdout)[0]).toMatch(new RegExp(`^task ${started.id} .*: canceled$`));
  });

  it('works over gRPC too, and an unknown transport is a usage error', async () => {
    const listed = await cli(['tasks', 'list', echo, '--transport', 'grpc']);
    expect(listed.code).toBe(EXIT.OK);
    expect(listed.stdout).toMatch(/\d+ of \d+ task\(s\)/);
    const bad = await cli(['tasks', 'list', echo, '--transport', 'smoke-signals']);
    expect(bad.code).toBe(EXIT.USAGE);
    expect(bad.stderr).toContain('smoke-signals');
  });
});

describe('help and usage', () => {
  const HELP: Array<[string[], string[]]> = [
    [[], ['serve', 'send', 'card', 'tasks', '--version']],
    [
      ['serve'],
      [
        '--config',
        '--port',
        '--host',
        '--public-url',
        '--log-level',
        '--max-concurrent-workflows',
        'HTTP_PORT',
        'LOG_LEVEL',
        'MAX_CONCURRENT_WORKFLOWS',
      ],
    ],
    [['send'], ['<url>', '<text>', '--stream', '--transport', '--task', '--context', '--no-wait', '--json']],
    [['card'], ['<url>', '--json']],
    [['tasks'], ['list', 'get', 'cancel']],
    [
      ['tasks', 'list'],
      ['--context', '--status', '--page-size', '--page-token', '--transport', '--json'],
    ],
    [
      ['tasks', 'get'],
      ['<id>', '--history-length', '--transport', '--json'],
    ],
    [
      ['tasks', 'cancel'],
      ['<id>', '--transport', '--json'],
    ],
  ];

  it.each(HELP)('%j --help exits 0 and lists its options', async (command, mentions) => {
    const r = await cli([...command, '--help']);
    expect(r.code).toBe(EXIT.OK);
    expect(r.stdout).toContain(`Usage: agentd${command.length ? ` ${command.join(' ')}` : ''}`);
    for (const m of mentions) expect(r.stdout).toContain(m);
  });

  it('agentd alone, or tasks alone, prints the help on stdout and exits 0', async () => {
    for (const argv of [[], ['tasks']]) {
      const r = await cli(argv);
      expect(r.code).toBe(EXIT.OK);
      expect(r.stderr).toBe('');
      expect(r.stdout).toContain(
        `Usage: agentd${argv.length ? ` ${argv.join(' ')}` : ''} [options] [command]`,
      );
    }
  });

  it('the top-level help names the three transports', async () => {
    const r = await cli(['--help']);
    expect(r.code).toBe(EXIT.OK);
    expect(r.stdout.replace(/\s+/g, ' ')).toContain('JSON-RPC 2.0 + SSE, HTTP+JSON (REST) and gRPC');
  });

  it('"help <command>" works too', async () => {
    const r = await cli(['help', 'send']);
    expect(r.code).toBe(EXIT.OK);
    expect(r.stdout).toContain('--stream');
  });

  it('--version prints the package version', async () => {
    const r = await cli(['--version']);
    expect(r.code).toBe(EXIT.OK);
    expect(r.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('an unknown command exits 2', async () => {
    const r = await cli(['frobnicate']);
    expect(r.code).toBe(EXIT.USAGE);
    expect(r.stderr).toContain("unknown command 'frobnicate'");
  });

  it('an unknown option or a missing argument exits 2', async () => {
    expect((await cli(['send', '--frob', echo, 'x'])).code).toBe(EXIT.USAGE);
    expect((await cli(['send', echo])).code).toBe(EXIT.USAGE);
    expect((await cli(['tasks', 'get', echo])).code).toBe(EXIT.USAGE);
    expect((await cli(['tasks', 'list', echo, '--page-size', '0'])).code).toBe(EXIT.USAGE);
  });
});

describe('agentd serve with a configuration that fails validation', () => {
  function configFile(name: string, yaml: string): string {
    const file = join(tmp, name);
    writeFileSync(file, yaml);
    return file;
  }

  it('a bad value exits 2 naming the field', async () => {
    const file = configFile(
      'bad.yaml',
      'server: { httpPort: 70000 }\nagents: [{ name: echo, kind: echo }]\n',
    );
    const r = await cli(['serve', '--config', file]);
    expect(r.code).toBe(EXIT.USAGE);
    expect(r.stderr).toContain(file);
    expect(r.stderr).toContain('server.httpPort');
  });

  it('a bad environment value exits 2 naming the field and the variable', async () => {
    const file = configFile('ok.yaml', 'agents: [{ name: echo, kind: echo }]\n');
    const r = await cli(['serve', '--config', file], { env: { HTTP_PORT: 'eighty' } });
    expect(r.code).toBe(EXIT.USAGE);
    expect(r.stderr).toContain('server.httpPort (from env HTTP_PORT)');
  });

  it('unknown keys and duplicate agents exit 2 naming them', async () => {
    const file = configFile(
      'dup.yaml',
      'colour: red\nagents: [{ name: echo, kind: echo }, { name: echo, kind: echo }]\n',
    );
    const r = await cli(['serve', '--config', file]);
    expect(r.code).toBe(EXIT.USAGE);
    expect(r.stderr).toContain('"colour"');
  });

  it('a missing config file exits 2', async () => {
    const r = await cli(['serve', '--config', join(tmp, 'absent.yaml')]);
    expect(r.code).toBe(EXIT.USAGE);
    expect(r.stderr).toContain('config file not found');
  });

  it('a module agent that cannot be loaded exits 2 naming the agent', async () => {
    const file = configFile(
      'module.yaml',
      'agents: [{ name: custom, kind: module, module: ./does-not-exist.js }]\n',
    );
    const r = await cli(['serve', '--config', file]);
    expect(r.code).toBe(EXIT.USAGE);
    expect(r.stderr).toContain('agent "custom"');
    expect(r.stderr).toContain('does-not-exist.js');
  });

  it('bad flags exit 2 before anything starts', async () => {
    expect((await cli(['serve', '--port', 'abc'])).code).toBe(EXIT.USAGE);
    expect((await cli(['serve', '--log-level', 'loud'])).code).toBe(EXIT.USAGE);
    expect((await cli(['serve', '--max-concurrent-workflows', '0'])).code).toBe(EXIT.USAGE);
  });
});
