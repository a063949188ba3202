// Typed wrappers around the desktop commands (src-tauri/src/commands.rs).
// These types mirror src-tauri/src/session.rs by hand for now; issue 6
// replaces them with bindings generated from the Rust types.
import { invoke } from '@tauri-apps/api/core';

/** What the unlock screen needs before anything is decrypted. */
export interface VaultInfo {
  path: string;
  exists: boolean;
  unlocked: boolean;
  demo_passphrase: string | null;
}

/** What is shown once the vault is open. */
export interface UnlockedInfo {
  case_count: number;
  device_name: string;
  escrow_on: boolean;
}

/** Every command error: a stable code to translate, the library's message as fallback. */
export interface UiError {
  code: string;
  message: string;
}

export function isUiError(e: unknown): e is UiError {
  return typeof e === 'object' && e !== null && 'code' in e && 'message' in e;
}

/** Turn whatever a command threw into a UiError. */
export function toUiError(e: unknown): UiError {
  if (isUiError(e)) return e;
  return { code: 'internal', message: String(e) };
}

export const api = {
  vaultInfo: () => invoke<VaultInfo>('vault_info'),
  unlock: (passphrase: string) => invoke<UnlockedInfo>('unlock', { passphrase }),
  lock: () => invoke<void>('lock'),
};

export type Api = typeof api;
