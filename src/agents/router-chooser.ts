/**
 * The `llm` chooser of router agents: shows an OpenAI-compatible chat model the message and
 * every candidate's card (name, description, skills) and asks for one name back. The answer
 * is taken only when it is exactly a candidate's name; anything else falls back to matching
 * skills. Loaded only when a router has a model configured.
 */
import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import { streamText } from 'ai';
import type { ModelChooser } from './router-agent.js';

export interface ChooserOptions {
  readonly router: string;
  readonly baseUrl: string;
  readonly model: string;
  /** Empty for servers that need none. */
  readonly apiKey: string;
}

/** At most this much of the message goes to the model (the choice needs the gist, not all of it). */
const MAX_MESSAGE_CHARS = 4000;

export function modelChooser(options: ChooserOptions): ModelChooser {
  const provider = createOpenAICompatible({
    name: options.router,
    baseURL: options.baseUrl,
    ...(options.apiKey ? { apiKey: options.apiKey } : {}),
  });
  const model = provider.chatModel(options.model);
  return async (message, candidates, signal) => {
    const catalogue = candidates
      .map(({ name, card }) => {
        const skills = card.skills
          .map(
            (s) =>
              `  - ${s.name || s.id}${s.description ? `: ${s.description}` : ''}${s.tags.length ? ` [${s.tags.join(', ')}]` : ''}`,
          )
          .join('\n');
        return `${name}: ${card.description}\n${skills}`;
      })
      .join('\n');
    const result = streamText({
      model,
      system:
        'You route user messages to the one agent best able to answer them. ' +
        'Answer with the agent name only, exactly as listed, and nothing else.',
      prompt: `Agents:\n${catalogue}\n\nMessage:\n${message.slice(0, MAX_MESSAGE_CHARS)}\n\nAgent name:`,
      temperature: 0,
      maxOutputTokens: 20,
      abortSignal: signal,
    });
    let text = '';
    for await (const chunk of result.textStream) text += chunk;
    return text.trim().replace(/^["'`]|["'`.]$/g, '');
  };
}
