import { invalidParams } from '../errors.js';

/** ListTasks page cursor: the sort key of the last task on the previous page. */
export interface Cursor {
  readonly updatedAt: number;
  readonly id: string;
}

/** Opaque, URL-safe page token for the task just before the next page. */
export function encodeCursor(updatedAt: number, id: string): string {
  return Buffer.from(JSON.stringify([updatedAt, id])).toString('base64url');
}

/** Parses a page token; a token we did not issue is an INVALID_PARAMS error. */
export function decodeCursor(token: string): Cursor {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
    if (Array.isArray(parsed) && typeof parsed[0] === 'number' && typeof parsed[1] === 'string') {
      return { updatedAt: parsed[0], id: parsed[1] };
    }
  } catch {
    // fall through to the error below
  }
  throw invalidParams('pageToken', 'is not a token this server issued');
}
