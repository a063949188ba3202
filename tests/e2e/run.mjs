// End-to-end smoke test of the Fieldcase desktop app, driven as a user would
// through WebDriver: tauri-driver in front of Debian's WebKitWebDriver, the
// real debug binary with the front end embedded, a real vault made by the CLI.
//
// Run under a display (make e2e wraps it in xvfb-run). Environment:
//   FIELDCASE_DESKTOP_BIN  desktop binary   (default target/debug/fieldcase-desktop)
//   FIELDCASE_CLI_BIN      CLI binary       (default target/debug/fieldcase)
//   TAURI_DRIVER           tauri-driver     (default target/tools/bin/tauri-driver, else PATH)
//   NATIVE_DRIVER          WebKitWebDriver  (default /usr/bin/WebKitWebDriver)
//   E2E_SCREENS            screenshot dir   (default target/e2e-screens)
//   E2E_TIMEOUT_SECS       whole-run limit  (default 300)
//
// Prints `N passed, M failed` last; exits non-zero on any failure, on a
// window that never opens, and when the time limit is hit.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { remote } from 'webdriverio';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const desktopBin = path.resolve(process.env.FIELDCASE_DESKTOP_BIN ?? path.join(root, 'target/debug/fieldcase-desktop'));
const cliBin = path.resolve(process.env.FIELDCASE_CLI_BIN ?? path.join(root, 'target/debug/fieldcase'));
const localDriver = path.join(root, 'target/tools/bin/tauri-driver');
const tauriDriver = process.env.TAURI_DRIVER ?? (existsSync(localDriver) ? localDriver : 'tauri-driver');
const nativeDriver = process.env.NATIVE_DRIVER ?? '/usr/bin/WebKitWebDriver';
const screens = path.resolve(process.env.E2E_SCREENS ?? path.join(root, 'target/e2e-screens'));
const limitSecs = Number(process.env.E2E_TIMEOUT_SECS ?? 300);

const PASSPHRASE = 'correct horse battery staple e2e';
const DEVICE_NAME = 'E2E device';
const DEMO_CASES = 12;

let driverProc = null;
let browser = null;
let work = null;
const results = [];

function log(msg) {
  console.log(`[e2e] ${msg}`);
}

async function cleanup() {
  if (browser) {
    await Promise.race([browser.deleteSession().catch(() => {}), sleep(10_000)]);
    browser = null;
  }
  if (driverProc && driverProc.exitCode === null) {
    // tauri-driver was started in its own process group: end it and the
    // WebKitWebDriver and app it started, and nothing else.
    try { process.kill(-driverProc.pid, 'SIGTERM'); } catch { /* already gone */ }
    await sleep(500);
    try { process.kill(-driverProc.pid, 'SIGKILL'); } catch { /* already gone */ }
  }
  if (work) rmSync(work, { recursive: true, force: true });
  work = null;
}

// A hung driver or window must not hang CI: at the limit, end the driver (the
// pending WebDriver call then fails and main() returns), and if even that
// hangs, exit hard.
let timedOut = false;
const watchdog = setTimeout(() => {
  timedOut = true;
  console.error(`[e2e] FAIL: time limit of ${limitSecs}s reached`);
  setTimeout(() => {
    console.log(`${results.filter((r) => r.ok).length} passed, ${results.filter((r) => !r.ok).length + 1} failed`);
    process.exit(1);
  }, 20_000).unref();
  cleanup();
}, limitSecs * 1000);

function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

function cli(args, { allowFail = false } = {}) {
  const r = spawnSync(cliBin, ['--vault', path.join(work, 'vault'), ...args], {
    env: { ...process.env, FIELDCASE_PASSPHRASE: PASSPHRASE },
    encoding: 'utf8',
    timeout: 120_000,
  });
  if (r.status !== 0 && !allowFail) {
    throw new Error(`fieldcase ${args.join(' ')} failed (${r.status}): ${r.stderr || r.error}`);
  }
  return r;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

async function waitForPort(port, ms) {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    const ok = await new Promise((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => { s.end(); resolve(true); });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    if (driverProc.exitCode !== null) throw new Error(`tauri-driver exited with ${driverProc.exitCode}`);
    await sleep(200);
  }
  throw new Error(`tauri-driver did not listen on port ${port} within ${ms} ms`);
}

async function screenshot(name) {
  const file = path.join(screens, `${name}.png`);
  // Let WebKit paint the last DOM change first; otherwise the capture can
  // show the previous frame.
  await browser.pause(400);
  try {
    await browser.saveScreenshot(file);
  } catch (e) {
    log(`webview screenshot ${name} failed: ${e.message}`);
  }
  // The whole X screen too: shows the window frame, title and size.
  if (process.env.DISPLAY) {
    spawnSync('import', ['-window', 'root', path.join(screens, `${name}-screen.png`)], { timeout: 20_000 });
  }
}

async function step(name, fn) {
  const started = Date.now();
  try {
    await fn();
    results.push({ name, ok: true });
    log(`ok   ${name} (${Date.now() - started} ms)`);
  } catch (e) {
    results.push({ name, ok: false });
    log(`FAIL ${name}: ${e.stack ?? e}`);
  } finally {
    if (browser) await screenshot(`${String(results.length).padStart(2, '0')}-${name.replace(/[^a-z0-9]+/gi, '-').toLowerCase()}`);
  }
}

function expectEqual(actual, expected, what) {
  if (actual !== expected) throw new Error(`${what}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
}

async function visible(selector, timeout = 20_000) {
  const el = await browser.$(selector);
  await el.waitForDisplayed({ timeout, timeoutMsg: `${selector} not shown within ${timeout} ms` });
  return el;
}

async function main() {
  for (const [what, file] of [['desktop binary', desktopBin], ['CLI binary', cliBin], ['WebKitWebDriver', nativeDriver]]) {
    if (!existsSync(file)) throw new Error(`${what} not found at ${file}; run make desktop (and make deps)`);
  }
  mkdirSync(screens, { recursive: true });
  work = mkdtempSync(path.join(tmpdir(), 'fieldcase-e2e-'));
  const vault = path.join(work, 'vault');

  log(`creating a vault in ${vault}`);
  cli(['init', '--name', DEVICE_NAME]);
  const demo = cli(['demo', '--cases', String(DEMO_CASES)], { allowFail: true });
  if (demo.status !== 0) log(`note: fieldcase demo failed, continuing with an empty vault: ${demo.stderr.trim()}`);
  const status = JSON.parse(cli(['status', '--json']).stdout);
  const expectedCases = status.cases;
  log(`the CLI reports ${expectedCases} cases`);

  const port = await freePort();
  const nativePort = await freePort();
  driverProc = spawn(tauriDriver, ['--port', String(port), '--native-port', String(nativePort), '--native-driver', nativeDriver], {
    detached: true,
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, FIELDCASE_VAULT: vault, FIELDCASE_DEMO_PASSPHRASE: PASSPHRASE },
  });
  driverProc.on('error', (e) => log(`cannot start tauri-driver (${tauriDriver}): ${e.message}`));
  await waitForPort(port, 20_000);

  await step('window opens on the unlock screen', async () => {
    browser = await remote({
      hostname: '127.0.0.1',
      port,
      logLevel: 'warn',
      connectionRetryTimeout: 60_000,
      connectionRetryCount: 1,
      capabilities: {
        'wdio:enforceWebDriverClassic': true,
        'tauri:options': { application: desktopBin, args: ['--vault', vault] },
      },
    });
    await visible('[data-testid="unlock-screen"]', 30_000);
    expectEqual(await browser.getTitle(), 'Fieldcase', 'window title');
    const href = await browser.execute(() => window.location.href);
    if (href.startsWith('http://localhost:5173')) throw new Error(`the app loads the dev server (${href}), not the embedded front end`);
    const demoText = await (await visible('[data-testid="demo-passphrase"]')).getText();
    if (!demoText.includes(PASSPHRASE)) throw new Error(`demo passphrase not shown: ${demoText}`);
    const label = await (await browser.$('label[for="passphrase"]')).getText();
    expectEqual(label, 'Passphrase', 'field label');
  });
  if (!browser) throw new Error('the app window did not open; see the errors above');

  await step('a wrong passphrase shows an error', async () => {
    const field = await visible('#passphrase');
    await field.setValue('not the passphrase');
    await (await browser.$('button[type="submit"]')).click();
    const alert = await browser.$('[role="alert"]');
    await browser.waitUntil(async () => (await alert.getText()) !== '', { timeout: 30_000, timeoutMsg: 'no error shown' });
    expectEqual(await alert.getText(), 'Wrong passphrase. Type it again.', 'error message');
    expectEqual(await (await browser.$('[data-testid="home-screen"]')).isExisting(), false, 'home screen shown');
  });

  await step('the right passphrase opens the vault and shows the case count', async () => {
    const field = await visible('#passphrase');
    await field.setValue(PASSPHRASE);
    await (await browser.$('button[type="submit"]')).click();
    const count = await visible('[data-testid="case-count"]', 30_000);
    expectEqual(Number(await count.getAttribute('data-count')), expectedCases, 'case count');
    expectEqual(await (await browser.$('[data-testid="vault-name"]')).getText(), DEVICE_NAME, 'vault name');
  });

  await step('CSP blocks inline scripts, capabilities refuse core commands, nothing is stored in the webview', async () => {
    const ran = await browser.execute(() => {
      const s = document.createElement('script');
      s.textContent = 'window.__fieldcaseInline = true;';
      document.head.append(s);
      return window.__fieldcaseInline === true;
    });
    expectEqual(ran, false, 'an injected inline script ran');
    // Capabilities grant the app's own commands only: a core command is refused.
    const call = (cmd) =>
      browser.execute(async (c) => {
        try {
          await window.__TAURI_INTERNALS__.invoke(c);
          return 'allowed';
        } catch (e) {
          return `refused: ${e}`;
        }
      }, cmd);
    expectEqual(await call('vault_info'), 'allowed', 'the app command vault_info');
    const core = await call('plugin:app|version');
    if (!/not allowed/i.test(core)) throw new Error(`a core command not in capabilities/default.json was not refused by the ACL: ${core}`);
    const stored = await browser.execute(() => localStorage.length + sessionStorage.length);
    expectEqual(stored, 0, 'items in localStorage/sessionStorage');
  });

  await step('Arabic lays the window out right to left', async () => {
    await (await browser.$('[data-testid="language"]')).selectByAttribute('value', 'ar');
    await browser.waitUntil(async () => (await browser.execute(() => document.documentElement.dir)) === 'rtl', {
      timeout: 5_000,
      timeoutMsg: 'document direction did not become rtl',
    });
    expectEqual(await (await browser.$('[data-testid="lock"]')).getText(), 'قفل', 'Arabic lock button');
    await screenshot('arabic-home');
    await (await browser.$('[data-testid="language"]')).selectByAttribute('value', 'en');
  });

  await step('Lock returns to the unlock screen', async () => {
    await (await visible('[data-testid="lock"]')).click();
    await visible('[data-testid="unlock-screen"]');
    expectEqual(await (await browser.$('#passphrase')).getValue(), '', 'passphrase field after lock');
  });
}

let fatal = null;
try {
  await main();
} catch (e) {
  fatal = e;
  console.error(`[e2e] FAIL: ${e.stack ?? e}`);
}
await cleanup();
clearTimeout(watchdog);
const passed = results.filter((r) => r.ok).length;
const failed = results.filter((r) => !r.ok).length + (fatal || timedOut ? 1 : 0);
log(`screenshots in ${screens}`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 && passed > 0 ? 0 : 1);
