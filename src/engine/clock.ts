/**
 * `new Date().toISOString()` costs over a microsecond and a task's events ask for it
 * several times within the same millisecond; this returns the same string until the
 * millisecond changes.
 */
let lastMs = -1;
let lastIso = '';

/** The current time as an ISO 8601 string (millisecond precision). */
export function isoNow(): string {
  const ms = Date.now();
  if (ms !== lastMs) {
    lastMs = ms;
    lastIso = new Date(ms).toISOString();
  }
  return lastIso;
}
