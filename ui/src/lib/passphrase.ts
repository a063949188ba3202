// The first-run screen's passphrase meter. The verdict is the library's
// (fieldcase::passphrase_policy, through the check_passphrase command): the
// same rule create_vault and the CLI enforce, so the meter cannot call a
// passphrase acceptable that the vault would refuse.
import type { PassphraseCheck } from './bindings/PassphraseCheck';

export type Strength = 'too_short' | 'weak' | 'fair' | 'strong';

/** Shortest passphrase accepted, for the hint shown before any check
 * (passphrase_policy::MIN_CHARS; each verdict carries it too). */
export const MIN_CHARS = 12;

/** The class the meter shows for a verdict (none yet: by length alone). */
export function strengthOf(check: PassphraseCheck | null, passphrase: string): Strength {
  if (check) return check.strength as Strength;
  return passphrase.length < MIN_CHARS ? 'too_short' : 'weak';
}

/**
 * Ask `check` about each new passphrase, at most one call per `delayMs`
 * of typing, and hand only the answer to the latest passphrase to
 * `onverdict` (an earlier, slower answer is dropped). Returns the function
 * to call on every change.
 */
export function passphraseChecker(
  check: (passphrase: string, userName: string) => Promise<PassphraseCheck>,
  onverdict: (v: PassphraseCheck | null) => void,
  delayMs = 150,
): (passphrase: string, userName: string) => void {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let latest = 0;
  return (passphrase, userName) => {
    clearTimeout(timer);
    const seq = ++latest;
    onverdict(null);
    if (!passphrase) return;
    timer = setTimeout(() => {
      check(passphrase, userName).then(
        (v) => seq === latest && onverdict(v),
        () => seq === latest && onverdict(null),
      );
    }, delayMs);
  };
}
