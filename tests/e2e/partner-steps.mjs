// End-to-end steps of requests to partners abroad (issue 26): office A
// sends a family-assessment request from a case in the app, sees exactly
// what it shares first; the partner's office B (played by the CLI) imports
// it, writes its receipt and answers; A imports the receipt and the answer
// on the Partners screen, and the case shows the request answered, with the
// partner's author in its history. run.mjs calls partnerSteps(ctx); like
// sync-steps.mjs it starts its own tauri-driver and opens the app on its
// own vaults (made with the CLI), then closes it.
//
// ctx (all optional): { tauriDriver, nativeDriver, desktopBin, cliBin, screens, results, log }
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { remote } from 'webdriverio';
import { chooseFile, dialogHook, sleep, startDriver, stopDriver, stepContext, stepKit } from './driver.mjs';

const PASSPHRASE = 'e2e partner passphrase, not a real one';
const AMINA_PASSPHRASE = 'quarry lantern amina velvet orbit e2e';

export async function partnerSteps(ctx) {
  const settings = stepContext(ctx, 'partner');
  const { log, results, screens, cliBin, desktopBin, nativeDriver, tauriDriver } = settings;

  const work = mkdtempSync(path.join(tmpdir(), 'fieldcase-e2e-partner-'));
  const dirs = { a: path.join(work, 'agadez'), b: path.join(work, 'conakry') };
  const usb = path.join(work, 'usb');
  mkdirSync(usb);
  const hook = dialogHook(path.join(work, 'dialog'));
  const choose = (testid, file) => chooseFile(browser, hook, testid, file);
  let driver = null;
  let browser = null;
  let caseNumber = '';
  let relative = '';
  let partnerB = '';
  let requestId = '';

  const cli = (vault, args, { env = {}, input } = {}) => {
    const r = spawnSync(cliBin, ['--vault', vault, ...args], {
      env: { ...process.env, FIELDCASE_PASSPHRASE: PASSPHRASE, FIELDCASE_TEST_SCRYPT_LOG_N: '10', ...env },
      encoding: 'utf8',
      input,
      timeout: 120_000,
    });
    if (r.status !== 0) throw new Error(`fieldcase ${args.join(' ')} failed (${r.status}): ${r.stderr || r.error}`);
    return r.stdout;
  };

  const { screenshot, step, visible, click, setField } = stepKit(settings, () => browser);

  const textOf = async (selector, timeout) => (await visible(selector, timeout)).getText();

  const open = async (vault, passphrase) => {
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
    await setField('#passphrase', passphrase);
    await (await browser.$('button[type="submit"]')).click();
    await visible('[data-testid="nav-partners"]', 30_000);
  };

  const close = async () => {
    if (!browser) return;
    await Promise.race([browser.deleteSession().catch(() => {}), sleep(10_000)]);
    browser = null;
    await sleep(1500);
  };

  const importOnPartnersScreen = async (file, expect) => {
    await click('[data-testid="nav-partners"]');
    await visible('[data-testid="partners-screen"]');
    await choose('partner-import-path', file);
    await click('[data-testid="partner-import-check"]');
    const checked = await visible('[data-testid="partner-import-checked"]', 30_000);
    expectEqual(await checked.getAttribute('data-what'), expect, 'kind of partner file');
    await click('[data-testid="partner-import-apply"]');
    return textOf('[data-testid="partner-imported"]', 30_000);
  };

  const expectEqual = (actual, expected, what) => {
    if (actual !== expected) throw new Error(`${what}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
  };

  try {
    await step('two offices become partners and A registers a child with the CLI', async () => {
      for (const f of [cliBin, desktopBin]) if (!existsSync(f)) throw new Error(`${f} not found (make desktop builds it)`);
      cli(dirs.a, ['init', '--office', '--name', 'Agadez office']);
      cli(dirs.b, ['init', '--office', '--name', 'Conakry office']);
      const card = (dir) => {
        const out = cli(dir, ['partner', 'card']);
        const get = (label) => out.split('\n').find((l) => l.startsWith(label))?.slice(label.length).trim() ?? '';
        return { recipient: get('Recipient:'), key: get('Signing key:'), fingerprint: get('Fingerprint:') };
      };
      const add = (dir, name, country, c) =>
        cli(dir, ['partner', 'add', '--name', name, '--country', country, '--recipient', c.recipient, '--key', c.key,
          '--fingerprint', c.fingerprint]);
      add(dirs.a, 'Conakry office', 'GIN', card(dirs.b));
      add(dirs.b, 'Agadez office', 'NER', card(dirs.a));
      partnerB = JSON.parse(cli(dirs.a, ['partner', 'list', '--json']))[0].partner_id;
      // A's caseworker registers the child, with consent to cross-border
      // sharing and tracing, and the mother in family tracing.
      cli(dirs.a, ['person', 'add', '--user', 'amina', '--role', 'caseworker'], { env: { FIELDCASE_NEW_PASSPHRASE: AMINA_PASSPHRASE } });
      const asAmina = { env: { FIELDCASE_AS: 'amina', FIELDCASE_PASSPHRASE: AMINA_PASSPHRASE } };
      const registration = {
        given_names: 'Fanta', family_name: 'Camara', sex: 'female', age_years: 15, place_of_origin: 'Kindia',
        legitimate_basis: 'consent', wants_tracing: 'yes', fears_about_return: 'e2e-disclosure-marker',
        consent: { by: 'Fanta', method: 'signature', date: '2026-11-02' },
        consent_scopes: ['case_management', 'cross_border_transfer', 'tracing_disclosure'],
      };
      const made = cli(dirs.a, ['case', 'new', '--type', 'uasc', '--office', 'Agadez', '--values', '-'],
        { ...asAmina, input: JSON.stringify(registration) });
      caseNumber = made.match(/registered case (\S+)/)?.[1] ?? '';
      const saved = cli(dirs.a, ['form', 'save', caseNumber, 'family_tracing', '--values', '-'], {
        ...asAmina,
        input: JSON.stringify({ relative: { name: 'Aissatou Camara' }, relationship: 'mother', last_known_location: 'Kindia',
          child_consents_contact: true, tracing_status: 'family_located', tracing_safety_check: 'safe' }),
      });
      relative = saved.match(/item (\S+)/)?.[1] ?? '';
      if (!caseNumber || !relative) throw new Error(`no case or relative: ${made} ${saved}`);
      log(`case ${caseNumber}, relative ${relative}, partner ${partnerB}`);
    });
    if (!relative) return;

    driver = await startDriver(tauriDriver, nativeDriver, { FIELDCASE_VAULT: dirs.a, ...hook.env });

    const request = path.join(usb, 'request-family-assessment.fcb');
    await step('office A: a family-assessment request shows what it shares, then goes to a USB folder', async () => {
      // As the caseworker who registered the child: the office's data
      // manager sees case metadata only and may not send what a request
      // carries (need-to-know).
      await open(dirs.a, AMINA_PASSPHRASE);
      await click('[data-testid="nav-cases"]');
      await click('[data-testid="case-row"] td');
      await click('[data-testid="tab-partners"]');
      await visible('[data-testid="partner-request-none"]');
      await setField('[data-testid="partner-pick"]', partnerB);
      await setField('[data-testid="partner-kind"]', 'family_assessment');
      await setField('[data-testid="partner-about"]', relative);
      const preview = await textOf('[data-testid="partner-preview"]', 30_000);
      for (const shown of ['Fanta', 'Aissatou Camara']) if (!preview.includes(shown)) throw new Error(`preview lacks ${shown}: ${preview}`);
      if (preview.includes('e2e-disclosure-marker')) throw new Error('the preview shows the child’s disclosure');
      // Value-list codes read as their labels (sex, relationship), never as codes.
      for (const label of ['Female', 'Mother']) if (!preview.includes(label)) throw new Error(`preview lacks the label ${label}: ${preview}`);
      for (const code of [/\bfemale\b/, /\bmother\b/]) if (code.test(preview)) throw new Error(`preview shows the code ${code}: ${preview}`);
      await browser.execute((e) => e.scrollIntoView({ block: 'center' }), await visible('[data-testid="partner-preview"]'));
      await screenshot('preview');
      await choose('partner-path', request);
      await click('[data-testid="partner-send"]');
      const sent = await textOf('[data-testid="partner-sent"]', 60_000);
      if (!sent.includes(request) || !existsSync(request)) throw new Error(`request not written: ${sent}`);
      const row = await visible('[data-testid="partner-request"]');
      expectEqual(await row.getAttribute('data-status'), 'sent', 'status after sending');
    });

    const receipt = path.join(usb, 'receipt.fcb');
    const answer = path.join(usb, 'answer.fcb');
    await step('office B (CLI): imports the request with its receipt, and answers', async () => {
      const got = cli(dirs.b, ['request', 'import', request, '--receipt', receipt]);
      requestId = got.match(/request (\S+) from/)?.[1] ?? '';
      if (!requestId || !existsSync(receipt)) throw new Error(`no request or receipt: ${got}`);
      cli(dirs.b, ['request', 'answer', requestId, '--out', answer], {
        input: JSON.stringify({ willingness: 'yes', assessment_date: '2026-12-01' }),
      });
      if (!existsSync(answer)) throw new Error('no answer written');
    });

    await step('office A: the receipt marks the request received by the partner', async () => {
      const done = await importOnPartnersScreen(receipt, 'receipt');
      if (!done.includes('received')) throw new Error(`receipt message: ${done}`);
      await click('[data-testid="partner-open-case"]');
      await click('[data-testid="tab-partners"]');
      const row = await visible('[data-testid="partner-request"]');
      expectEqual(await row.getAttribute('data-status'), 'received', 'status after the receipt');
    });

    await step('office A: the answer is imported into the case, its author in the history', async () => {
      const done = await importOnPartnersScreen(answer, 'answer');
      if (!done.includes('Conakry office')) throw new Error(`answer message: ${done}`);
      await click('[data-testid="partner-open-case"]');
      await click('[data-testid="tab-partners"]');
      const row = await visible('[data-testid="partner-request"]');
      expectEqual(await row.getAttribute('data-status'), 'answered', 'status after the answer');
      await screenshot('answered');
      await click('[data-testid="tab-history"]');
      const history = await textOf('[data-testid="history"]');
      if (!/answer from .* of Conakry office: signed answer/.test(history)) throw new Error(`history: ${history}`);
    });
  } finally {
    await close();
    await stopDriver(driver);
    rmSync(work, { recursive: true, force: true });
  }
}
