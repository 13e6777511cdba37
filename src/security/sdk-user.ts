/**
 * The caller as the SDK's `User` on `ServerCallContext.user`, so an `AgentExecutor` written
 * for @a2a-js/sdk sees who called (`context.user.userName`, `isAuthenticated`).
 */
import type { User } from '@a2a-js/sdk/server';
import type { Principal } from './principal.js';

export class PrincipalUser implements User {
  constructor(readonly principal: Principal) {}

  get isAuthenticated(): boolean {
    return this.principal.scheme !== 'none';
  }

  get userName(): string {
    return this.principal.id;
  }
}

/** The SDK user of an authenticated principal; undefined in the open mode. */
export function userOf(principal: Principal | undefined): User | undefined {
  return principal && principal.scheme !== 'none' ? new PrincipalUser(principal) : undefined;
}
