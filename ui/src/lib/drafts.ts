// Unsaved form input, kept in this window's memory only (never in
// localStorage or IndexedDB: no case data in webview storage). Switching
// tabs or cases keeps what was typed; locking the vault clears it all.
import type { Values } from './forms';

const drafts = new Map<string, Values>();

/** The draft under `key` (a copy), if any. */
export function getDraft(key: string): Values | undefined {
  const d = drafts.get(key);
  return d ? structuredClone(d) : undefined;
}

/** Remember `values` under `key`. */
export function setDraft(key: string, values: Values): void {
  drafts.set(key, structuredClone(values));
}

/** Forget one draft (after it was saved). */
export function clearDraft(key: string): void {
  drafts.delete(key);
}

/** Forget every draft (on lock). */
export function clearAllDrafts(): void {
  drafts.clear();
}

/** Whether anything is kept (for tests and the lock screen). */
export function draftCount(): number {
  return drafts.size;
}
