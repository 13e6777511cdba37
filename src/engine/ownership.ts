/**
 * Who may see and manage a task (per-owner authorization): its owner, and admins. The pure
 * decision; {@link TaskReader} is the one place it is applied when a task is loaded.
 */
import type { Principal } from '../security/principal.js';

/**
 * Whether `principal` may see and manage a task owned by `owner`. Admins (ANONYMOUS in
 * the open mode) see every task; any other principal only the tasks it created. An
 * unowned task (owner `''`, created in the open mode) belongs to nobody but admins, and a
 * principal with an empty id owns nothing.
 */
export function mayAccess(principal: Principal, owner: string | undefined): boolean {
  return principal.admin || (principal.id !== '' && owner === principal.id);
}

/**
 * The `owner` filter of ListTasks for `principal`: undefined (every owner's tasks) for an
 * admin, else its own id.
 */
export function listedOwner(principal: Principal): string | undefined {
  return principal.admin ? undefined : principal.id;
}
