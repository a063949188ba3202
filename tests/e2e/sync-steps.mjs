// End-to-end steps of the Sync and Office screens (issue 6): a device exports
// a bundle, the office imports it after the preview, and resolves the
// protected-field conflict it brings, side by side; a damaged bundle is
// refused with one line. run.mjs calls syncSteps(ctx); its own window stays
// open meanwhile (these steps use other vaults and their own driver).
//
// The vaults are made as a deployment would: the office with
// `fieldcase init --office`, two caseworker devices enrolled with
// `fieldcase enroll request/approve` + `import`; then the fixture
// target/debug/examples/e2e_sync_fixture plays the field work the CLI has no
// commands for (a registration, an assignment, two offline edits of the
// protected risk level), leaving device A with an unsent edit.
//
// This file starts its own tauri-driver (fresh ports) and opens the app twice,
// one session after the other: first on device A's vault, then on the
// office's, each with `--vault DIR`.
//
// ctx (all optional): { tauriDriver, nativeDriver, desktopBin, cliBin, screens, results, log }
//   results: the array run.mjs counts ({ name, ok } per step); screenshots
//   go to screens/sync-NN-<step>.png
//   FIELDCASE_FIXTURE_BIN overrides the fixture path.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { remote } from 'webdriverio';
import { chooseFile, dialogHook, sleep, startDriver, stopDriver, stepContext, stepKit } from './driver.mjs';

const PASSPHRASE = 'e2e sync passphrase, not a real one';
// The office supervisor's own passphrase (a person of the office vault).
const SARA_PASSPHRASE = 'quarry lantern sara velvet orbit e2e';
// The caseworker of the other office that hands a case over.
const SANI_PASSPHRASE = 'quarry lantern sani velvet orbit e2e';

export async function syncSteps(ctx) {
  const settings = stepContext(ctx, 'sync');
  const { log, results, screens, cliBin, desktopBin, nativeDriver, tauriDriver } = settings;
  const fixtureBin = process.env.FIELDCASE_FIXTURE_BIN ?? path.join(path.dirname(cliBin), 'examples/e2e_sync_fixture');

  const work = mkdtempSync(path.join(tmpdir(), 'fieldcase-e2e-sync-'));
  const dirs = {
    office: path.join(work, 'office'), a: path.join(work, 'amina'), b: path.join(work, 'bakary'), other: path.join(work, 'niamey'),
  };
  // Stands in for a USB drive: files are chosen there through the app's
  // file-dialog test hook.
  const usb = path.join(work, 'usb');
  mkdirSync(usb);
  const hook = dialogHook(path.join(work, 'dialog'));
  const choose = (testid, file) => chooseFile(browser, hook, testid, file);
  let driver = null;
  let browser = null;
  let caseNumber = '';
  // The case the Niamey office transfers to this office.
  let transferNumber = '';
  const transferBundle = path.join(usb, 'transfer-from-niamey.fcb');
  const transferReceipt = path.join(usb, 'transfer-receipt.fcb');

  const cli = (vault, args, extraEnv = {}) => {
    const r = spawnSync(cliBin, ['--vault', vault, ...args], {
      env: { ...process.env, FIELDCASE_PASSPHRASE: PASSPHRASE, FIELDCASE_TEST_SCRYPT_LOG_N: '10', ...extraEnv },
      encoding: 'utf8',
      timeout: 120_000,
    });
    if (r.status !== 0) throw new Error(`fieldcase ${args.join(' ')} failed (${r.status}): ${r.stderr || r.error}`);
    return r.stdout;
  };

  const { screenshot, step, visible } = stepKit(settings, () => browser);

  const expectEqual = (actual, expected, what) => {
    if (actual !== expected) throw new Error(`${what}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
  };

  // Setting a Svelte-bound text field: WebKitWebDriver's setValue types
  // into it, which fires the input events the binding listens to.
  const type = async (selector, value) => {
    const el = await visible(selector);
    await el.clearValue();
    await el.setValue(value);
    expectEqual(await el.getValue(), value, `${selector} value`);
  };

  const open = async (vault) => {
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
    await type('#passphrase', PASSPHRASE);
    await (await browser.$('button[type="submit"]')).click();
    await visible('[data-testid="nav-sync"]', 30_000);
  };

  const close = async () => {
    if (!browser) return;
    await Promise.race([browser.deleteSession().catch(() => {}), sleep(10_000)]);
    browser = null;
    // The app locks its vault on exit; give it time to release vault.lock.
    await sleep(1500);
  };

  try {
    await step('office and two devices are made and enrolled with the CLI', async () => {
      for (const f of [cliBin, fixtureBin, desktopBin]) if (!existsSync(f)) throw new Error(`${f} not found (make desktop builds it)`);
      cli(dirs.office, ['init', '--office', '--name', 'Agadez office']);
      // The office's supervisor: a person of the office vault with her own
      // passphrase, enrolled in its roster as she is added.
      cli(dirs.office, ['person', 'add', '--user', 'Sara Supervisor', '--role', 'supervisor'], {
        FIELDCASE_NEW_PASSPHRASE: SARA_PASSPHRASE,
      });
      for (const [who, dir] of [['amina', dirs.a], ['bakary', dirs.b]]) {
        cli(dir, ['init', '--name', who]);
        const req = path.join(work, `${who}-request.json`);
        const bundle = path.join(work, `${who}-enrollment.fcb`);
        cli(dir, ['enroll', 'request', '--out', req]);
        cli(dirs.office, ['enroll', 'approve', req, '--role', 'caseworker', '--out', bundle]);
        cli(dir, ['import', bundle]);
      }
      const r = spawnSync(fixtureBin, [dirs.office, dirs.a, dirs.b], {
        env: { ...process.env, FIELDCASE_PASSPHRASE: PASSPHRASE },
        encoding: 'utf8',
        timeout: 120_000,
      });
      if (r.status !== 0) throw new Error(`fixture failed (${r.status}): ${r.stderr || r.error}`);
      caseNumber = r.stdout.trim();
      if (!caseNumber) throw new Error('the fixture printed no case number');
      log(`case ${caseNumber}: risk level set offline by amina (unsent) and bakary (at the office)`);
      // Another office registers a child, with consent to a cross-border
      // transfer, and transfers the case to this office (accepted in the app below).
      cli(dirs.other, ['init', '--office', '--name', 'Niamey office']);
      cli(dirs.other, ['person', 'add', '--user', 'sani', '--role', 'caseworker'], { FIELDCASE_NEW_PASSPHRASE: SANI_PASSPHRASE });
      const asSani = { FIELDCASE_AS: 'sani', FIELDCASE_PASSPHRASE: SANI_PASSPHRASE };
      const values = (name, v) => {
        const f = path.join(work, `${name}.json`);
        writeFileSync(f, JSON.stringify(v));
        return f;
      };
      const made = cli(dirs.other, ['case', 'new', '--type', 'uasc', '--office', 'Niamey', '--values', values('reg', {
        given_names: 'Ibrahim', family_name: 'Moussa', sex: 'male', age_years: 14,
        legitimate_basis: 'consent', consent: { by: 'Ibrahim', method: 'signature', date: '2026-11-02' },
        consent_scopes: ['case_management', 'cross_border_transfer'],
      })], asSani);
      transferNumber = made.match(/registered case (\S+)/)?.[1] ?? '';
      if (!transferNumber) throw new Error(`no case number: ${made}`);
      cli(dirs.other, ['form', 'save', transferNumber, 'closure_transfer', '--values', values('consent', {
        transfer_consent: { by: 'Ibrahim', method: 'signature', date: '2026-11-03' },
      })], asSani);
      const to = cli(dirs.office, ['recipient']).trim();
      const key = cli(dirs.office, ['transfer', 'key']).trim();
      cli(dirs.other, ['transfer', transferNumber, '--to', to, '--to-key', key, '--out', transferBundle]);
      log(`case ${transferNumber}: transferred by the Niamey office`);
    });
    if (!caseNumber) return;

    driver = await startDriver(tauriDriver, nativeDriver, { FIELDCASE_VAULT: dirs.a, ...hook.env });

    const bundle = path.join(usb, 'amina-to-office.fcb');
    await step('device: export a bundle for the office to a USB folder', async () => {
      await open(dirs.a);
      await (await visible('[data-testid="nav-sync"]')).click();
      await visible('[data-testid="sync-screen"]');
      const status = await (await visible('[data-testid="sync-status"]')).getText();
      if (!status.includes('Agadez office')) throw new Error(`sync status does not name the office: ${status}`);
      await choose('export-path', bundle);
      await (await browser.$('[data-testid="export-button"]')).click();
      const done = await visible('[data-testid="export-done"]', 60_000);
      if (!(await done.getText()).includes(bundle)) throw new Error(`export message: ${await done.getText()}`);
      if (!existsSync(bundle)) throw new Error(`${bundle} was not written`);
    });
    await close();

    await step('office: a damaged bundle is refused with one line and nothing changes', async () => {
      await open(dirs.office);
      await (await visible('[data-testid="nav-sync"]')).click();
      const damaged = path.join(usb, 'damaged.fcb');
      writeFileSync(damaged, 'age-encryption.org/v1\n-> X25519 not really\n');
      await choose('import-path', damaged);
      await (await browser.$('[data-testid="preview-button"]')).click();
      const err = await visible('[data-testid="import-error"]', 30_000);
      const text = await err.getText();
      if (!text.startsWith('Bundle refused, nothing was changed:')) throw new Error(`refusal text: ${text}`);
      if (text.includes('\n')) throw new Error(`refusal is not one line: ${text}`);
      expectEqual(await (await browser.$('[data-testid="apply-button"]')).isExisting(), false, 'apply offered for a refused bundle');
    });

    await step('office: the import preview shows the changes and the protected conflict', async () => {
      await choose('import-path', bundle);
      await (await browser.$('[data-testid="preview-button"]')).click();
      await visible('[data-testid="import-preview"]', 60_000);
      expectEqual(await (await browser.$('[data-testid="count-updated-cases"]')).getText(), '1', 'updated cases');
      expectEqual(await (await browser.$('[data-testid="count-new-cases"]')).getText(), '0', 'new cases');
      expectEqual(await (await browser.$('[data-testid="count-protected"]')).getText(), '1', 'protected conflicts');
      const conflicts = await (await browser.$('[data-testid="preview-conflicts"]')).getText();
      if (!conflicts.includes(caseNumber)) throw new Error(`preview conflicts do not name case ${caseNumber}: ${conflicts}`);
      // Nothing is applied yet: the Office screen has no conflict to review.
      await (await browser.$('[data-testid="nav-office"]')).click();
      await visible('[data-testid="no-protected-conflicts"]');
      await (await browser.$('[data-testid="nav-sync"]')).click();
      await visible('[data-testid="sync-screen"]');
    });

    await step('office: apply the import after the preview', async () => {
      // Leaving the Sync screen dropped the preview: preview again, then
      // apply (the app imports exactly the bytes it previewed).
      await choose('import-path', bundle);
      await (await browser.$('[data-testid="preview-button"]')).click();
      await visible('[data-testid="apply-button"]', 60_000);
      await (await browser.$('[data-testid="apply-button"]')).click();
      const done = await visible('[data-testid="import-done"]', 60_000);
      if (!/Imported: \d+ new change/.test(await done.getText())) throw new Error(`import message: ${await done.getText()}`);
    });

    await step('office: the conflict shows both values side by side with who, when and device (Arabic, RTL)', async () => {
      await (await browser.$('[data-testid="nav-office"]')).click();
      const conflict = await visible(`[data-testid="conflict"][data-field="risk_level"]`);
      expectEqual(await conflict.getAttribute('data-case'), caseNumber, 'conflict case');
      // A plain array: webdriverio's element arrays have async map().
      const heads = [];
      for (const h of await conflict.$$('[data-testid="conflict-head"]')) heads.push(h);
      expectEqual(heads.length, 2, 'values side by side');
      const texts = [];
      for (const h of heads) texts.push(await h.getText());
      for (const who of ['amina', 'bakary']) {
        if (!texts.some((t) => t.includes(who))) throw new Error(`no value by ${who}: ${texts.join(' | ')}`);
      }
      const where = async () => [await heads[0].getLocation(), await heads[1].getLocation()];
      const [r0, r1] = await where();
      if (Math.abs(r0.y - r1.y) > 4) throw new Error(`values are not side by side (y ${r0.y} vs ${r1.y})`);
      await screenshot('conflict-side-by-side');
      await (await browser.$('[data-testid="language"]')).selectByAttribute('value', 'ar');
      await browser.waitUntil(async () => (await browser.execute(() => document.documentElement.dir)) === 'rtl', {
        timeout: 5_000,
        timeoutMsg: 'document direction did not become rtl',
      });
      const [a0, a1] = await where();
      // Right to left: the first value now stands to the right of the second.
      if (!(a0.x > a1.x)) throw new Error(`in Arabic the first value is not on the right (x ${a0.x} vs ${a1.x})`);
      await screenshot('conflict-arabic');
      await (await browser.$('[data-testid="language"]')).selectByAttribute('value', 'en');
    });

    await step('office: resolve the protected-field conflict by choosing a value', async () => {
      // The office's data manager routes protected conflicts; a supervisor
      // chooses the value (docs/conflicts.md). Switch to the supervisor,
      // with her passphrase.
      await (await browser.$('[data-testid="nav-settings"]')).click();
      const user = await visible('[data-testid="acting-user"]');
      await user.clearValue();
      await user.setValue('Sara Supervisor');
      const pass = await visible('[data-testid="acting-pass"]');
      await pass.clearValue();
      await pass.setValue(SARA_PASSPHRASE);
      await (await browser.$('[data-testid="acting-submit"]')).click();
      await browser.waitUntil(async () => (await (await browser.$('[data-testid="acting-as"]')).getText()).includes('Sara'), {
        timeout: 10_000,
        timeoutMsg: 'the sidebar does not show the supervisor',
      });
      await (await browser.$('[data-testid="nav-office"]')).click();
      await visible('[data-testid="conflict"][data-field="risk_level"]');
      const heads = await browser.$$('[data-testid="conflict"][data-field="risk_level"] [data-testid="conflict-head"]');
      let chosen = null;
      for (const h of heads) if ((await h.getText()).includes('bakary')) chosen = h;
      if (!chosen) throw new Error('no value by bakary');
      const value = await (await chosen.$('[data-testid="conflict-value"]')).getText();
      await (await chosen.$('[data-testid="choose-value"]')).click();
      const note = await visible('[data-testid="conflict-resolved"]', 30_000);
      if (!(await note.getText()).includes(value)) throw new Error(`resolution note: ${await note.getText()}`);
      await visible('[data-testid="no-protected-conflicts"]');
      // Back to the office's data manager, who reviews duplicates.
      await (await browser.$('[data-testid="nav-settings"]')).click();
      await (await visible('[data-testid="acting-back"]')).click();
      const back = await visible('[data-testid="acting-pass"]');
      await back.clearValue();
      await back.setValue(PASSPHRASE);
      await (await browser.$('[data-testid="acting-submit"]')).click();
      await browser.waitUntil(async () => !(await (await browser.$('[data-testid="acting-as"]')).getText()).includes('Sara'), {
        timeout: 10_000,
        timeoutMsg: 'the sidebar still shows the supervisor',
      });
      await (await browser.$('[data-testid="nav-office"]')).click();
    });

    await step('office: a suspected duplicate is listed, and "Not the same child" removes it', async () => {
      const button = await visible('[data-testid="duplicate-review"] [data-testid="not-same-child"]', 30_000);
      await button.scrollIntoView();
      await screenshot('duplicate-review');
      await button.click();
      // One more click confirms: a pair hidden by mistake would leave a child registered twice.
      await (await visible('[data-testid="duplicate-review"] [data-testid="not-same-child-yes"]')).click();
      const note = await visible('[data-testid="duplicate-review"] [role="status"]', 30_000);
      if (!(await note.getText()).includes('two different children')) throw new Error(`review note: ${await note.getText()}`);
      const left = await browser.$$('[data-testid="duplicate-review"] [data-testid="not-same-child"]');
      expectEqual(left.length, 0, 'pairs listed after the review');
    });

    await step('office: a change the rules refuse is held; checked again it stays held, then the data manager discards it', async () => {
      // amina marked the case registered without knowing that bakary had
      // changed its legitimate basis to consent (none recorded): R4.
      const card = await visible('[data-testid="quarantine"]');
      await card.scrollIntoView();
      const list = await visible('[data-testid="quarantine-list"]');
      const rows = await list.$$('tbody tr');
      expectEqual(rows.length, 1, 'held changes');
      const row = await rows[0].getText();
      for (const want of [caseNumber, 'Stage changed', 'amina', 'R4']) {
        if (!row.includes(want)) throw new Error(`held change row lacks ${want}: ${row}`);
      }
      await screenshot('quarantine-held');
      await (await browser.$('[data-testid="quarantine-retry"]')).click();
      const note = await visible('[data-testid="quarantine-note"]', 30_000);
      if (!(await note.getText()).includes('still refused')) throw new Error(`retry note: ${await note.getText()}`);
      await (await browser.$('[data-testid="quarantine-discard"]')).click();
      const yes = await visible('[data-testid="quarantine-discard-yes"]');
      expectEqual(await yes.isEnabled(), false, 'discard offered without a reason');
      await type('[data-testid="quarantine-discard-reason"]', 'registration redone after the consent is recorded');
      await yes.click();
      await visible('[data-testid="quarantine-empty"]', 30_000);
      if (!(await (await visible('[data-testid="quarantine-note"]')).getText()).includes('discarded')) {
        throw new Error('no note of the discard');
      }
      await screenshot('quarantine');
    });
    await step('office: a case transferred by another office is previewed and accepted, its receipt written', async () => {
      await (await browser.$('[data-testid="nav-sync"]')).click();
      await visible('[data-testid="sync-screen"]');
      await choose('import-path', transferBundle);
      await (await browser.$('[data-testid="preview-button"]')).click();
      await visible('[data-testid="import-preview"]', 60_000);
      await choose('transfer-receipt', transferReceipt);
      await (await visible('[data-testid="transfer-accept"]')).click();
      const done = await visible('[data-testid="transfer-answered"]', 60_000);
      if (!(await done.getText()).includes(transferReceipt)) throw new Error(`answer message: ${await done.getText()}`);
      if (!existsSync(transferReceipt)) throw new Error('no receipt written');
      await screenshot('transfer-accepted');
      await (await browser.$('[data-testid="nav-cases"]')).click();
      await visible(`[data-testid="case-row"][data-case-number="${transferNumber}"]`, 30_000);
    });

    await step("office: reassign every case of bakary to amina", async () => {
      await (await browser.$('[data-testid="nav-cases"]')).click();
      await (await visible('[data-testid="reassign"] summary')).click();
      const to = await visible('[data-testid="reassign-to"]');
      await to.clearValue();
      await to.setValue('amina');
      await (await visible('[data-testid="reassign-from"]')).selectByAttribute('value', 'bakary');
      await (await browser.$('[data-testid="reassign-all"]')).click();
      const result = await browser.$('[data-testid="reassign-result"]');
      await browser.waitUntil(async () => /amina/.test(await result.getText()), {
        timeout: 30_000,
        timeoutMsg: 'no result of the reassignment',
      });
      const err = await browser.$('[data-testid="reassign-error"]');
      if (await err.isExisting()) throw new Error(`reassignment refused: ${await err.getText()}`);
      await browser.waitUntil(async () => {
        const rows = await browser.execute(() =>
          [...document.querySelectorAll('[data-testid="case-row"]')].map((r) => r.lastElementChild.textContent.trim()));
        return rows.includes('amina') && !rows.includes('bakary');
      }, { timeout: 20_000, timeoutMsg: 'the case list still shows cases of bakary' });
      await screenshot('reassigned');
    });
    await close();

    await step('the resolution is in the office vault (checked with the CLI)', async () => {
      // The CLI opens the office vault as its data manager, who sees a
      // protected field only while it is in conflict (docs/visibility.md):
      // the conflict is gone from the queue, the trail holds the
      // resolution, and the settled value is not shown to the data manager.
      const queue = JSON.parse(cli(dirs.office, ['case', 'conflicts', '--json']));
      const open = queue.filter((q) => q.case?.case_number === caseNumber && q.field === 'risk_level');
      expectEqual(open.length, 0, 'risk level conflicts still open');
      const history = JSON.parse(cli(dirs.office, ['case', 'history', caseNumber, '--json']));
      const entries = history.entries ?? [];
      if (!entries.some((e) => String(e.summary ?? '').includes('resolved conflict on registration_bia.risk_level'))) {
        throw new Error(`no resolution in the trail: ${JSON.stringify(entries.map((e) => e.summary))}`);
      }
      const discarded = JSON.parse(cli(dirs.office, ['quarantine', 'discarded', '--json']));
      expectEqual(discarded.length, 1, 'discarded changes in the audit record');
      const show = JSON.parse(cli(dirs.office, ['case', 'show', caseNumber, '--json']));
      const risk = (show.fields ?? []).find((f) => f.form === 'registration_bia' && f.field === 'risk_level');
      if (risk && risk.value !== null && risk.value !== undefined) {
        throw new Error(`the data manager sees a settled protected value: ${JSON.stringify(risk)}`);
      }
    });

    await step('the sending office reads the receipt: the case was accepted', async () => {
      const out = cli(dirs.other, ['import', transferReceipt]);
      if (!out.includes('accepted')) throw new Error(`receipt import: ${out}`);
    });
  } finally {
    await close();
    await stopDriver(driver);
    rmSync(work, { recursive: true, force: true });
  }
}
