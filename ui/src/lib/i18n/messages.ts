// Message catalogues and a small formatter: `{name}` placeholders and the ICU
// plural form `{count, plural, =0 {…} one {# …} other {# …}}` (categories
// from Intl.PluralRules, so Arabic's two/few/many work). Enough for the
// screens we have; no runtime dependency, nothing fetched.
import en from './en.json';
import fr from './fr.json';
import ar from './ar.json';

export type Locale = 'en' | 'fr' | 'ar';
export type Params = Record<string, string | number>;

export const LOCALES: { code: Locale; name: string; dir: 'ltr' | 'rtl' }[] = [
  { code: 'en', name: 'English', dir: 'ltr' },
  { code: 'fr', name: 'Français', dir: 'ltr' },
  { code: 'ar', name: 'العربية', dir: 'rtl' },
];

const catalogues: Record<Locale, Record<string, string>> = { en, fr, ar };

/** Text direction of a locale. */
export function dirOf(locale: Locale): 'ltr' | 'rtl' {
  return LOCALES.find((l) => l.code === locale)?.dir ?? 'ltr';
}

/** Whether the catalogue of `locale` has `key` (no fallback). */
export function hasMessage(locale: Locale, key: string): boolean {
  return key in catalogues[locale];
}

/** Every key of a catalogue, for the completeness test. */
export function messageKeys(locale: Locale): string[] {
  return Object.keys(catalogues[locale]).sort();
}

/** The template of `key` in `locale`, without fallback (for tests). */
export function template(locale: Locale, key: string): string | undefined {
  return catalogues[locale][key];
}

/** The parameter names a template uses: `{name}` and `{name, plural, …}`. */
export function placeholderNames(template: string): string[] {
  const names: string[] = [];
  let i = 0;
  while (i < template.length) {
    const open = template.indexOf('{', i);
    if (open < 0) break;
    const close = matchingBrace(template, open);
    if (close < 0) break;
    names.push(template.slice(open + 1, close).split(',')[0].trim());
    i = close + 1;
  }
  return names;
}

/**
 * The message `key` in `locale` with `params` filled in. Falls back to
 * English, then to the key itself, so a missing translation is visible but
 * never breaks a screen.
 */
export function translate(locale: Locale, key: string, params: Params = {}): string {
  const template = catalogues[locale][key] ?? catalogues.en[key] ?? key;
  return format(locale, template, params);
}

/** Fill `{name}` and `{name, plural, …}` in `template`. */
export function format(locale: Locale, template: string, params: Params): string {
  let out = '';
  let i = 0;
  while (i < template.length) {
    const open = template.indexOf('{', i);
    if (open < 0) {
      out += template.slice(i);
      break;
    }
    out += template.slice(i, open);
    const close = matchingBrace(template, open);
    if (close < 0) {
      out += template.slice(open);
      break;
    }
    out += placeholder(locale, template.slice(open + 1, close), params);
    i = close + 1;
  }
  return out;
}

function matchingBrace(s: string, open: number): number {
  let depth = 0;
  for (let j = open; j < s.length; j++) {
    if (s[j] === '{') depth++;
    else if (s[j] === '}' && --depth === 0) return j;
  }
  return -1;
}

function placeholder(locale: Locale, body: string, params: Params): string {
  const parts = body.split(',');
  const name = parts[0].trim();
  if (parts.length >= 3 && parts[1].trim() === 'plural') {
    const n = Number(params[name] ?? 0);
    const options = parseOptions(body.slice(body.indexOf(',', body.indexOf(',') + 1) + 1));
    const category = new Intl.PluralRules(locale).select(n);
    const chosen = options.get(`=${n}`) ?? options.get(category) ?? options.get('other') ?? '';
    const number = new Intl.NumberFormat(locale).format(n);
    return format(locale, chosen, params).replace(/#/g, number);
  }
  const v = params[name];
  if (v === undefined) return `{${name}}`;
  return typeof v === 'number' ? new Intl.NumberFormat(locale).format(v) : v;
}

function parseOptions(s: string): Map<string, string> {
  const options = new Map<string, string>();
  let i = 0;
  while (i < s.length) {
    const open = s.indexOf('{', i);
    if (open < 0) break;
    const close = matchingBrace(s, open);
    if (close < 0) break;
    options.set(s.slice(i, open).trim(), s.slice(open + 1, close));
    i = close + 1;
  }
  return options;
}
