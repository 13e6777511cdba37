/** The validated config types the security layer reads. */
import type { z } from 'zod';
import type { authSchema, tlsSchema } from '../config/security-schema.js';

export type AuthConfig = z.infer<typeof authSchema>;
export type TlsConfig = z.infer<typeof tlsSchema>;

/** The configuration cannot be served as asked (auth.required without a scheme, a bad key file). */
export class AuthConfigError extends Error {
  override readonly name = 'AuthConfigError';
}
