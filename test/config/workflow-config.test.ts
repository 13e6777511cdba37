import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/load-config.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'agentd-workflow-config-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function load(yaml: string): ReturnType<typeof loadConfig> {
  const file = join(dir, 'agentd.yaml');
  writeFileSync(file, yaml);
  return loadConfig({ configPath: file, env: {}, flags: {}, cwd: dir });
}

function problemsOf(yaml: string): string[] {
  try {
    load(yaml);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
}

const GOOD = `
agents:
  - name: researcher
    kind: echo
  - name: research-and-review
    kind: workflow
    description: Researches a topic, then has the draft reviewed.
    steps:
      - id: research
        agent: researcher
        input: "Find sources on {{ input }}"
        retry: { attempts: 3 }
      - id: review
        capability: review
        needs: [research]
        if: steps.research.output != ""
        input: "Review: {{ steps.research.output }}"
        onError: continue
      - id: approve
        ask: "Publish this?\\n{{ steps.research.output }}"
        needs: [research]
    output: "{{ steps.research.output }}\\n\\nReview: {{ steps.review.output }}"
`;

describe('workflow agents in the configuration', () => {
  it('load with their defaults filled in', () => {
    const { config } = load(GOOD);
    const workflow = config.agents[1];
    expect(workflow).toMatchObject({ name: 'research-and-review', kind: 'workflow', relayArtifacts: false });
    if (workflow?.kind !== 'workflow') throw new Error('expected a workflow agent');
    expect(workflow.steps.map((s) => [s.id, s.onError, s.retry.attempts])).toEqual([
      ['research', 'fail', 3],
      ['review', 'continue', 1],
      ['approve', 'fail', 1],
    ]);
  });

  it('a need naming no step is reported at its path, with the steps there are', () => {
    const problems = problemsOf(`
agents:
  - name: wf
    kind: workflow
    steps:
      - { id: a, agent: x }
      - { id: b, agent: x, needs: [fetch] }
`);
    expect(problems).toEqual(['agents.0.steps.1.needs.0: no step "fetch" in this workflow (steps: a, b)']);
  });

  it('cycles, template and condition mistakes name the step and field', () => {
    expect(
      problemsOf(`
agents:
  - name: echo
    kind: echo
  - name: wf
    kind: workflow
    steps:
      - { id: a, agent: echo, needs: [b] }
      - { id: b, agent: echo, needs: [a] }
`),
    ).toEqual(['agents.1.steps.1.needs.0: needs form a cycle: b → a → b (each step needs the next)']);
    expect(
      problemsOf(`
agents:
  - name: wf
    kind: workflow
    steps:
      - { id: a, agent: x, if: 'input ==' }
`),
    ).toEqual([expect.stringMatching(/^agents\.0\.steps\.0\.if: expected a value .*\(at character 9\)$/)]);
  });

  it('a workflow may not call itself, and url targets are http(s) URLs', () => {
    expect(
      problemsOf(`
agents:
  - name: loop
    kind: workflow
    steps:
      - { id: a, agent: loop }
      - { id: b, url: "file:///etc/passwd" }
`),
    ).toEqual([
      'agents.0.steps.1.url: must be an http:// or https:// URL',
      'agents.0.steps.0.agent: a workflow cannot call itself ("loop")',
    ]);
  });

  it('an empty step list is reported once', () => {
    expect(problemsOf('agents:\n  - { name: wf, kind: workflow, steps: [] }\n')).toEqual([
      'agents.0.steps: a workflow needs at least one step',
    ]);
  });

  it('field errors and workflow errors of several agents are all reported', () => {
    const problems = problemsOf(`
agents:
  - name: one
    kind: workflow
    steps:
      - { id: a, agent: x, url: "http://127.0.0.1:1/" }
  - name: two
    kind: workflow
    steps:
      - { id: a, agent: x, retry: { attempts: 0 } }
`);
    expect(problems).toEqual([
      expect.stringMatching(/^agents\.1\.steps\.0\.retry\.attempts: /),
      'agents.0.steps.0.url: step "a" has both agent and url; a step has exactly one target',
    ]);
  });
});

describe('the workflow example in docs/agents.md', () => {
  it('is a valid configuration', () => {
    const doc = readFileSync(new URL('../../docs/agents.md', import.meta.url), 'utf8');
    const section = doc.slice(doc.indexOf('<!-- BEGIN workflow-definition -->'));
    const yaml = /```yaml\n([\s\S]*?)```/.exec(section)?.[1];
    expect(yaml).toBeDefined();
    const { config } = load(yaml!);
    const workflow = config.agents.find((a) => a.kind === 'workflow');
    expect(workflow?.kind === 'workflow' && workflow.steps.map((s) => s.id)).toEqual([
      'research',
      'weather',
      'plan',
      'simple-plan',
      'confirm',
      'book',
    ]);
  });
});
