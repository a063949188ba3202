// End-to-end screenshots of the screens on a small demo vault (synthetic
// cases made by `fieldcase demo`, as `make run` shows them): the case list,
// the calendar and the reports, each checked for machine codes where a
// label belongs, and the case list for overdue marks on closed cases.
// run.mjs calls demoSteps(ctx); like sync-steps.mjs it starts its own
// tauri-driver and opens the app on its own vault, then closes it.
//
// ctx (all optional): { tauriDriver, nativeDriver, desktopBin, cliBin, screens, results, log }
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { remote } from 'webdriverio';
import { sleep, startDriver, stopDriver, stepContext, stepKit } from './driver.mjs';

const PASSPHRASE = 'e2e demo passphrase, not a real one';
const CASES = 60;

// Value-list and stage codes that must never reach the screen as such.
const CODES = [
  /\bbia_in_progress\b/, /\bbid_pending\b/, /\bsolution_in_progress\b/, /\bother_unknown\b/, /\bfemale\b/, /\bmale\b/,
  /\bfollow_up\b/, /\bvisit_due\b/, /\bage_band_\w+/, /\bunaccompanied\b/, /\bturned_18\b/,
];

export async function demoSteps(ctx) {
  const settings = stepContext(ctx, 'demo');
  const { log, results, screens, cliBin, desktopBin, nativeDriver, tauriDriver } = settings;

  const work = mkdtempSync(path.join(tmpdir(), 'fieldcase-e2e-demo-'));
  const vault = path.join(work, 'demo-vault');
  let driver = null;
  let browser = null;

  const cli = (args) => {
    const r = spawnSync(cliBin, ['--vault', vault, ...args], {
      env: { ...process.env, FIELDCASE_PASSPHRASE: PASSPHRASE, FIELDCASE_TEST_SCRYPT_LOG_N: '10' },
      encoding: 'utf8',
      timeout: 180_000,
    });
    if (r.status !== 0) throw new Error(`fieldcase ${args.join(' ')} failed (${r.status}): ${r.stderr || r.error}`);
    return r.stdout;
  };

  const { step, visible, click, setField } = stepKit(settings, () => browser);

  // The codes the screen's text shows where a label belongs.
  const codesIn = async (selector) => {
    const text = await browser.execute((s) => document.querySelector(s)?.innerText ?? '', selector);
    return CODES.filter((c) => c.test(text)).map(String);
  };

  try {
    let made = false;
    await step(`a demo vault of ${CASES} synthetic cases is made with the CLI`, async () => {
      for (const f of [cliBin, desktopBin]) if (!existsSync(f)) throw new Error(`${f} not found (make desktop builds it)`);
      cli(['init', '--name', 'Demo supervisor', '--role', 'supervisor']);
      cli(['demo', '--cases', String(CASES), '--seed', '7']);
      made = true;
    });
    if (!made) return;
    driver = await startDriver(tauriDriver, nativeDriver, { FIELDCASE_VAULT: vault });

    await step('case list: labels, not codes, and no overdue mark on a closed case', async () => {
      browser = await remote({
        hostname: '127.0.0.1',
        port: driver.port,
        logLevel: 'warn',
        connectionRetryTimeout: 60_000,
        connectionRetryCount: 1,
        capabilities: {
          'wdio:enforceWebDriverClassic': true,
          'tauri:options': { application: desktopBin, args: ['--vault', vault] },
        },
      });
      await visible('[data-testid="unlock-screen"]', 30_000);
      await setField('#passphrase', PASSPHRASE);
      await (await browser.$('button[type="submit"]')).click();
      const count = await visible('[data-testid="case-count"]', 60_000);
      await browser.waitUntil(async () => Number(await count.getAttribute('data-count')) >= CASES / 2, {
        timeout: 30_000,
        timeoutMsg: 'the demo cases are not listed',
      });
      expectNone(await codesIn('[data-testid="shell"]'), 'codes in the case list');
      const closedOverdue = await browser.execute(() =>
        [...document.querySelectorAll('[data-testid="case-row"][data-stage="closed"]')]
          .filter((r) => r.querySelector('.badge.overdue'))
          .map((r) => r.dataset.caseNumber));
      expectNone(closedOverdue, 'closed cases marked overdue');
    });

    await step('calendar: labels, not codes', async () => {
      await click('[data-testid="nav-calendar"]');
      await visible('[data-testid="calendar"]');
      await click('[data-testid="only-visits"]');
      expectNone(await codesIn('[data-testid="calendar"]'), 'codes in the calendar');
    });

    await step('reports: the year, breakdowns with labels, not codes', async () => {
      await click('[data-testid="nav-reports"]');
      await setField('[data-testid="report-from"]', `${new Date().getFullYear()}-01-01`);
      await click('[data-testid="report-show"]');
      await visible('[data-indicator="1"] [data-testid="report-chart"]', 60_000);
      await (await visible('[data-indicator="1"] [data-testid="report-breakdown"]')).selectByAttribute('value', 'sex');
      await browser.pause(300);
      // The categories of every breakdown (tables and the choice of
      // breakdown); the indicators' definitions are the library's English
      // text, which names form fields.
      const shown = await browser.execute(() =>
        [...document.querySelectorAll('.indicator table, .indicator select')].map((e) => e.innerText).join('\n'));
      expectNone(CODES.filter((c) => c.test(shown)).map(String), 'codes in the reports');
    });
  } finally {
    if (browser) await Promise.race([browser.deleteSession().catch(() => {}), sleep(10_000)]);
    browser = null;
    await sleep(1500);
    await stopDriver(driver);
    rmSync(work, { recursive: true, force: true });
  }
}

function expectNone(list, what) {
  if (list.length > 0) throw new Error(`${what}: ${list.join(', ')}`);
}
