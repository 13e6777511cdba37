/** The validated config types the security layer reads. */
import type { z } from 'zod';
import type { authSchema, tlsSchema } from '../config/security-schema.js';

export type AuthConfig = z.infer<typeof authSchema>;
export type TlsConfig = z.infer<typeof tlsSchema>;
