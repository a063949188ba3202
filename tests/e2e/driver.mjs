// Helpers shared by the end-to-end steps (run.mjs, sync-steps.mjs,
// partner-steps.mjs, demo-steps.mjs): ports, starting and ending
// tauri-driver, the desktop app's file-dialog test hook, and the settings,
// steps and element helpers of a step file.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

/** A TCP port nobody listens on now. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

/** Wait until `port` accepts connections, or `proc` (tauri-driver) exits. */
export async function waitForPort(port, proc, ms) {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    const ok = await new Promise((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => { s.end(); resolve(true); });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    if (proc.exitCode !== null) throw new Error(`tauri-driver exited with ${proc.exitCode}`);
    await sleep(200);
  }
  throw new Error(`tauri-driver did not listen on port ${port} within ${ms} ms`);
}

/**
 * Start tauri-driver on fresh ports in its own process group, the app it
 * starts getting `env` on top of this process's environment. Returns
 * `{ proc, port }` once it listens.
 */
export async function startDriver(tauriDriver, nativeDriver, env = {}) {
  const port = await freePort();
  const nativePort = await freePort();
  const proc = spawn(tauriDriver, ['--port', String(port), '--native-port', String(nativePort), '--native-driver', nativeDriver], {
    detached: true,
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, ...env },
  });
  proc.on('error', (e) => console.log(`[e2e] cannot start tauri-driver (${tauriDriver}): ${e.message}`));
  await waitForPort(port, proc, 20_000);
  return { proc, port };
}

/** End a driver started by startDriver, with the WebKitWebDriver and app it started, and nothing else. */
export async function stopDriver(driver) {
  if (!driver || driver.proc.exitCode !== null) return;
  try { process.kill(-driver.proc.pid, 'SIGTERM'); } catch { /* already gone */ }
  await sleep(500);
  try { process.kill(-driver.proc.pid, 'SIGKILL'); } catch { /* already gone */ }
}

/**
 * The app's file dialogs in debug builds (src-tauri/src/dialog_commands.rs):
 * with FIELDCASE_TEST_DIALOG_DIR set (`env` below, passed to startDriver), a
 * "Choose…" button answers the path written here instead of opening the
 * system's dialog.
 */
export function dialogHook(dir) {
  mkdirSync(dir, { recursive: true });
  return {
    env: { FIELDCASE_TEST_DIALOG_DIR: dir },
    /** The next dialog answers `file` (an absolute path). */
    answer(file) {
      writeFileSync(path.join(dir, 'next-path'), file);
    },
  };
}

/**
 * Choose `file` in the PathPicker whose test id is `testid`: the dialog hook
 * answers it, the "Choose…" button is clicked, and the picker shows it.
 */
export async function chooseFile(browser, hook, testid, file) {
  hook.answer(file);
  const button = await browser.$(`[data-testid="${testid}-choose"]`);
  await button.waitForDisplayed({ timeout: 20_000, timeoutMsg: `${testid}-choose not shown` });
  await browser.execute((e) => e.scrollIntoView({ block: 'center' }), button);
  await button.click();
  const shown = await browser.$(`[data-testid="${testid}"]`);
  await browser.waitUntil(async () => (await shown.getText()).trim() === file, {
    timeout: 20_000,
    timeoutMsg: `${testid} does not show the chosen ${file}`,
  });
}

/**
 * What a step file reads from the context run.mjs passes it (all optional),
 * with the defaults it uses when run alone, and its `name` (for
 * [`stepKit`]): its log (prefixed with `name`),
 * the shared results, the screenshot folder (made here), the binaries and
 * the drivers.
 */
export function stepContext(ctx, name) {
  const localDriver = path.join(root, 'target/tools/bin/tauri-driver');
  const settings = {
    name,
    log: ctx.log ?? ((m) => console.log(`[e2e ${name}] ${m}`)),
    results: ctx.results ?? [],
    screens: ctx.screens ?? path.join(root, 'target/e2e-screens'),
    cliBin: ctx.cliBin ?? path.join(root, 'target/debug/fieldcase'),
    desktopBin: ctx.desktopBin ?? path.join(root, 'target/debug/fieldcase-desktop'),
    nativeDriver: ctx.nativeDriver ?? '/usr/bin/WebKitWebDriver',
    tauriDriver: ctx.tauriDriver ?? process.env.TAURI_DRIVER ?? (existsSync(localDriver) ? localDriver : 'tauri-driver'),
  };
  mkdirSync(settings.screens, { recursive: true });
  return settings;
}

/**
 * The steps and element helpers of the step file `name`: `step` records a
 * result named `name: …` and takes a numbered screenshot `name-NN-….png`
 * after it, pass or fail. `browser()` gives the session the file has open
 * (none: no screenshot), since a file opens and closes the app as it goes.
 */
export function stepKit({ name, screens, results, log }, browser) {
  let shot = 0;
  const screenshot = async (label) => {
    const b = browser();
    if (!b) return;
    await b.pause(400);
    const file = path.join(screens, `${name}-${String(++shot).padStart(2, '0')}-${label}.png`);
    try {
      await b.saveScreenshot(file);
    } catch (e) {
      log(`screenshot ${label} failed: ${e.message}`);
    }
  };

  const step = async (label, fn) => {
    const started = Date.now();
    try {
      await fn();
      results.push({ name: `${name}: ${label}`, ok: true });
      log(`ok   ${name}: ${label} (${Date.now() - started} ms)`);
    } catch (e) {
      results.push({ name: `${name}: ${label}`, ok: false });
      log(`FAIL ${name}: ${label}: ${e.stack ?? e}`);
    } finally {
      await screenshot(label.replace(/[^a-z0-9]+/gi, '-').toLowerCase());
    }
  };

  const visible = async (selector, timeout = 20_000) => {
    const el = await browser().$(selector);
    await el.waitForDisplayed({ timeout, timeoutMsg: `${selector} not shown within ${timeout} ms` });
    return el;
  };

  const click = async (selector) => {
    const el = await visible(selector);
    await browser().execute((e) => e.scrollIntoView({ block: 'center' }), el);
    await el.click();
  };

  // Setting a field's value directly and firing the events a Svelte
  // binding listens to (date and select inputs cannot be typed into).
  const setField = async (selector, value) => {
    const el = await visible(selector);
    await browser().execute(
      (e, v) => {
        e.value = v;
        e.dispatchEvent(new Event('input', { bubbles: true }));
        e.dispatchEvent(new Event('change', { bubbles: true }));
      },
      el,
      String(value),
    );
  };

  return { screenshot, step, visible, click, setField };
}
