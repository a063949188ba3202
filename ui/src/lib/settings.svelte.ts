// Window settings: the idle time before the vault locks itself. Kept in
// memory only, like everything else in the window (the e2e test checks that
// the webview's storage stays empty); it resets to the default at start.
const DEFAULT_IDLE_MINUTES = 5;

const state = $state({ idleMinutes: DEFAULT_IDLE_MINUTES });

/** Minutes without a key press or click before the vault locks. */
export function idleMinutes(): number {
  return state.idleMinutes;
}

/** Change the idle time (1–120 minutes). */
export function setIdleMinutes(n: number): void {
  if (!Number.isFinite(n)) return;
  state.idleMinutes = Math.min(120, Math.max(1, Math.round(n)));
}
