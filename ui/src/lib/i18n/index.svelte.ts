// The current locale as reactive state, and `t()` for components. Changing
// the locale re-renders every `t()` call and sets <html lang dir>, so Arabic
// lays out the whole window right to left.
import { dirOf, translate, type Locale, type Params } from './messages';

export { LOCALES, dirOf, type Locale } from './messages';

const state = $state<{ locale: Locale }>({ locale: 'en' });

/** The current locale. */
export function locale(): Locale {
  return state.locale;
}

/** Switch language at run time. */
export function setLocale(l: Locale): void {
  state.locale = l;
  if (typeof document !== 'undefined') {
    document.documentElement.lang = l;
    document.documentElement.dir = dirOf(l);
  }
}

/** Translate `key` in the current locale. */
export function t(key: string, params?: Params): string {
  return translate(state.locale, key, params);
}
