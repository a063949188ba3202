// A rough passphrase strength estimate for the first-run screen: bits of
// entropy from length and the kinds of characters used, with penalties for
// repeats and very common choices. It only guides the user; the vault's
// scrypt key derivation is what protects the data.
export type Strength = 'too_short' | 'weak' | 'fair' | 'strong';

/** Shortest passphrase accepted (matches MIN_PASSPHRASE_CHARS in src-tauri/src/session.rs). */
export const MIN_CHARS = 12;

const COMMON = ['password', 'passphrase', '123456', 'qwerty', 'azerty', 'fieldcase', 'letmein', 'welcome'];

/** Estimated entropy in bits. */
export function entropyBits(p: string): number {
  if (!p) return 0;
  let pool = 0;
  if (/[a-z]/.test(p)) pool += 26;
  if (/[A-Z]/.test(p)) pool += 26;
  if (/[0-9]/.test(p)) pool += 10;
  if (/[^A-Za-z0-9\s]/.test(p)) pool += 33;
  if (/\s/.test(p)) pool += 1;
  // Letters of other scripts (Arabic...) widen the pool a lot.
  if (/[^\u0000-\u007f]/.test(p)) pool += 60;
  const unique = new Set(p).size;
  // Repeated characters add little: count length by distinct runs.
  const effective = Math.min(p.length, unique * 2);
  let bits = effective * Math.log2(Math.max(pool, 2));
  const lower = p.toLowerCase();
  if (COMMON.some((c) => lower.includes(c))) bits -= 20;
  return Math.max(0, Math.round(bits));
}

/** The strength class shown to the user. */
export function strength(p: string): Strength {
  if (p.length < MIN_CHARS) return 'too_short';
  const b = entropyBits(p);
  if (b < 50) return 'weak';
  if (b < 70) return 'fair';
  return 'strong';
}
