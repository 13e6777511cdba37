/**
 * Binding the listeners with errors a user can act on, and the store check a scrape makes.
 */
import type { StateStore } from '../store/ports.js';

/** A listener could not bind: the message names the listener, the port and the setting that chose it. */
export class ListenError extends Error {
  override readonly name = 'ListenError';
}

/** Runs `bind`, turning a failure to listen into a {@link ListenError} a user can act on. */
export async function bound<T>(
  what: string,
  host: string,
  port: number,
  setting: string,
  bind: () => Promise<T>,
): Promise<T> {
  try {
    return await bind();
  } catch (error) {
    const text = `${(error as { code?: string }).code ?? ''} ${(error as Error).message}`;
    const why = /EADDRINUSE/.test(text)
      ? 'is already in use'
      : /EACCES/.test(text)
        ? 'needs privileges this process does not have (ports below 1024)'
        : /EADDRNOTAVAIL|ENOTFOUND|EAI_AGAIN/.test(text)
          ? `cannot be bound: ${host} is not an address of this machine`
          : `cannot be bound (${(error as Error).message})`;
    throw new ListenError(`${what} port ${port} on ${host} ${why}; choose another with ${setting}`, {
      cause: error,
    });
  }
}

/** Whether the store answers a ping within a second (a scrape must not hang on a dead Redis). */
export async function storeAnswers(store: StateStore): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), 1000);
  });
  try {
    return await Promise.race([store.ping().then(() => true), timeout]);
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}
