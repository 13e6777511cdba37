/**
 * Encryption of push-config credentials in backup files (`--encrypt-key-file`): AES-256-GCM
 * with a random 96-bit IV per config, the task and config ids as additional data (a sealed
 * value moved to another config does not open), stored as base64 of IV ‖ tag ‖ ciphertext.
 * The header names the key by the first 16 hex digits of its SHA-256, so a restore with the
 * wrong key is refused before anything is written, without revealing the key.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

const IV_BYTES = 12;
const TAG_BYTES = 16;

/** A 256-bit key from a key file's content: 32 raw bytes, 64 hex digits, or base64 of 32 bytes. */
export function parseBackupKey(content: Buffer): Buffer {
  if (content.length === 32) return content;
  const text = content.toString('utf8').trim();
  if (/^[0-9a-fA-F]{64}$/.test(text)) return Buffer.from(text, 'hex');
  const b64 = Buffer.from(text, 'base64');
  if (b64.length === 32 && /^[A-Za-z0-9+/_-]+={0,2}$/.test(text)) return b64;
  throw new Error('the key file must hold a 256-bit key: 32 bytes, 64 hex digits, or 32 bytes in base64');
}

/** The name of a key in a backup header (not secret: a prefix of its SHA-256). */
export function backupKeyId(key: Buffer): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 16);
}

/** Encrypts `plaintext` bound to `aad`. */
export function seal(key: Buffer, aad: string, plaintext: string): string {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(aad, 'utf8'));
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64');
}

/** Decrypts a {@link seal}ed value; throws when the key, the data or `aad` differ. */
export function unseal(key: Buffer, aad: string, sealed: string): string {
  const raw = Buffer.from(sealed, 'base64');
  if (raw.length < IV_BYTES + TAG_BYTES) throw new Error('too short');
  const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, IV_BYTES));
  decipher.setAAD(Buffer.from(aad, 'utf8'));
  decipher.setAuthTag(raw.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
  return Buffer.concat([decipher.update(raw.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString(
    'utf8',
  );
}
