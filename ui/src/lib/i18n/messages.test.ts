import { describe, expect, it } from 'vitest';
import { dirOf, format, messageKeys, translate } from './messages';
import { EVENT_KINDS, eventKindKey } from '../events';

describe('i18n catalogues', () => {
  it('French and Arabic have exactly the English keys', () => {
    expect(messageKeys('fr')).toEqual(messageKeys('en'));
    expect(messageKeys('ar')).toEqual(messageKeys('en'));
  });

  it('fills placeholders', () => {
    expect(translate('en', 'unlock.vault', { path: '/v' })).toBe('Vault: /v');
    expect(translate('fr', 'unlock.vault', { path: '/v' })).toBe('Coffre : /v');
  });

  it('chooses plural forms by locale', () => {
    expect(translate('en', 'home.cases', { count: 0 })).toBe('No cases');
    expect(translate('en', 'home.cases', { count: 1 })).toBe('1 case');
    expect(translate('en', 'home.cases', { count: 1200 })).toBe('1,200 cases');
    expect(translate('fr', 'home.cases', { count: 2 })).toBe('2 dossiers');
    expect(translate('ar', 'home.cases', { count: 2 })).toBe('حالتان');
    expect(translate('ar', 'home.cases', { count: 3 })).toMatch(/حالات$/);
  });

  it('falls back to English, then to the key', () => {
    expect(translate('fr', 'no.such.key')).toBe('no.such.key');
    expect(format('en', 'a {missing} b', {})).toBe('a {missing} b');
  });

  it('names every kind of change in words, in every language', () => {
    for (const kind of EVENT_KINDS) {
      for (const l of ['en', 'fr', 'ar'] as const) {
        const label = translate(l, eventKindKey(kind));
        expect(label, `${l} ${kind}`).not.toBe(eventKindKey(kind));
        expect(label).not.toContain('.');
      }
    }
  });

  it('lays Arabic out right to left', () => {
    expect(dirOf('ar')).toBe('rtl');
    expect(dirOf('en')).toBe('ltr');
  });
});
