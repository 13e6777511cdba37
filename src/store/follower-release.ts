/**
 * The one-shot release of an event-log follower: runs `onRelease` exactly once, when the
 * signal aborts (even if the follower was never iterated) or when iteration ends,
 * whichever comes first. Returns the function the iterator calls when it ends.
 */
export function releaseOnce(signal: AbortSignal, onRelease: () => void): () => void {
  let released = false;
  const release = (): void => {
    if (released) return;
    released = true;
    signal.removeEventListener('abort', release);
    onRelease();
  };
  signal.addEventListener('abort', release, { once: true });
  if (signal.aborted) release();
  return release;
}
