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
//   E2E_TIMEOUT_SECS       whole-run limit  (default 900)
//
// Prints `N passed, M failed` last; exits non-zero on any failure, on a
// window that never opens, and when the time limit is hit.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { remote } from 'webdriverio';
import { dialogHook, sleep, startDriver, stepKit } from './driver.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const desktopBin = path.resolve(process.env.FIELDCASE_DESKTOP_BIN ?? path.join(root, 'target/debug/fieldcase-desktop'));
const cliBin = path.resolve(process.env.FIELDCASE_CLI_BIN ?? path.join(root, 'target/debug/fieldcase'));
const localDriver = path.join(root, 'target/tools/bin/tauri-driver');
const tauriDriver = process.env.TAURI_DRIVER ?? (existsSync(localDriver) ? localDriver : 'tauri-driver');
const nativeDriver = process.env.NATIVE_DRIVER ?? '/usr/bin/WebKitWebDriver';
const screens = path.resolve(process.env.E2E_SCREENS ?? path.join(root, 'target/e2e-screens'));
const limitSecs = Number(process.env.E2E_TIMEOUT_SECS ?? 900);

const PASSPHRASE = 'Tamarind okapi velvet 8341 quay e2e';
// The BID panel chair's own passphrase (a further person of the vault).
const CHAIR_PASSPHRASE = 'quarry lantern chair velvet orbit e2e';
const VIEWER_PASSPHRASE = 'tundra gazelle mosaic 5127 viewer e2e';
const USER = 'Awa Diallo';
// A follow-up visit: when it was due, when it happened, what was seen, and
// the next one scheduled.
const FOLLOW_UP_VISIT = {
  visit_due: '2026-11-24',
  visit_date: '2026-11-24',
  follow_up_type: 'in_care',
  method: 'scheduled_home_visit',
  child_seen: 'true',
  care_arrangement_observed: 'kinship_extended_family',
  wellbeing_safety: 'stable',
  risk_level: 'medium',
  remigration_intention: 'no',
  child_views: 'Happy to be in school.',
  caregiver_views: 'Needs support for school fees.',
  next_visit_date: '2026-12-08',
  recommend_closure: 'false',
};

let driverProc = null;
// The app's file dialogs answer from here (driver.mjs, dialogHook).
let hook = null;
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

// The element helpers every step file uses (driver.mjs): `visible`, `click`
// (scrolled to the middle first, so the form's sticky Save bar does not
// cover it) and `setField` (the value, then the input and change events:
// WebKitGTK's date inputs do not take typed keys reliably). This file keeps
// its own `step` and `screenshot`: numbered by step, with the whole screen.
const { visible, click, setField } = stepKit({ name: 'main', screens, results, log }, () => browser);

/** `[data-field]` control inside a rendered form. */
function fieldSel(form, field, inner = 'input, select, textarea') {
  return `[data-testid="form-${form}"] [data-field="${field}"] :is(${inner})`;
}

async function fill(form, values) {
  for (const [field, value] of Object.entries(values)) {
    if (Array.isArray(value)) {
      for (const v of value) await click(`[data-testid="form-${form}"] [data-field="${field}"] input[value="${v}"]`);
    } else if (typeof value === 'object') {
      for (const [part, v] of Object.entries(value)) {
        await setField(`[data-testid="form-${form}"] [data-field="${field}"] [id$="-${part}"]`, v);
      }
    } else {
      await setField(fieldSel(form, field), value);
    }
  }
}

async function save(form) {
  await click(`[data-testid="save-${form}"]`);
  const status = await browser.$(`[data-testid="status-${form}"]`);
  await browser.waitUntil(async () => ['saved', 'invalid'].includes(await status.getAttribute('data-status')), {
    timeout: 20_000,
    timeoutMsg: `saving ${form} gave no answer`,
  });
  const st = await status.getAttribute('data-status');
  if (st !== 'saved') {
    const errs = await browser.execute(() => [...document.querySelectorAll('.errors li')].map((li) => li.textContent));
    throw new Error(`saving ${form} was refused: ${errs.join(' | ')}`);
  }
}

// Add a record of a repeating form: the list grows by one (the new-record
// form is replaced by a fresh one), or the refusal is reported.
async function addItem(form) {
  const before = (await browser.$$(`[data-testid="item-${form}"]`)).length;
  await click(`[data-testid="save-${form}"]`);
  let refused = null;
  await browser.waitUntil(
    async () => {
      if ((await browser.$$(`[data-testid="item-${form}"]`)).length > before) return true;
      const st = await browser.$(`[data-testid="status-${form}"]`);
      if ((await st.isExisting()) && (await st.getAttribute('data-status')) === 'invalid') {
        refused = await browser.execute(() => [...document.querySelectorAll('.errors li')].map((li) => li.textContent));
        return true;
      }
      return false;
    },
    { timeout: 20_000, timeoutMsg: `adding a ${form} record gave no answer` },
  );
  if (refused) throw new Error(`adding a ${form} record was refused: ${refused.join(' | ')}`);
}

async function tab(name) {
  await click(`[data-testid="tab-${name}"]`);
}

async function stage() {
  return (await visible('[data-testid="case-workspace"]')).getAttribute('data-stage');
}

async function moveTo(to, reason = '') {
  await tab('lifecycle');
  if (reason) await setField('[data-testid="stage-reason"]', reason);
  await click(`[data-testid="move-${to}"]`);
  await browser.waitUntil(async () => (await stage()) === to, {
    timeout: 20_000,
    timeoutMsg: `the case did not move to ${to}`,
  });
}

async function pickForm(id) {
  await tab('forms');
  await (await visible('[data-testid="form-picker"]')).selectByAttribute('value', id);
  await visible(`[data-testid="form-${id}"]`);
}

async function main() {
  for (const [what, file] of [['desktop binary', desktopBin], ['CLI binary', cliBin], ['WebKitWebDriver', nativeDriver]]) {
    if (!existsSync(file)) throw new Error(`${what} not found at ${file}; run make desktop (and make deps)`);
  }
  mkdirSync(screens, { recursive: true });
  work = mkdtempSync(path.join(tmpdir(), 'fieldcase-e2e-'));
  // No vault yet: the app starts on the first-run screen and the user makes it.
  const vault = path.join(work, 'vault');
  // A home of its own for every process started from here (the app, WebKit,
  // sync-steps' second app), so the last step can tell what the webview
  // left on disk.
  const home = path.join(work, 'home');
  mkdirSync(home);
  // And a temporary directory of its own: the app keeps the window's data
  // in a private directory there for the run and removes it at exit.
  const tmp = path.join(work, 'tmp');
  mkdirSync(tmp);
  Object.assign(process.env, {
    HOME: home,
    TMPDIR: tmp,
    XDG_DATA_HOME: path.join(home, '.local/share'),
    XDG_CACHE_HOME: path.join(home, '.cache'),
    XDG_CONFIG_HOME: path.join(home, '.config'),
  });

  hook = dialogHook(path.join(work, 'dialog'));
  const driver = await startDriver(tauriDriver, nativeDriver, { FIELDCASE_VAULT: vault, ...hook.env });
  driverProc = driver.proc;
  const port = driver.port;

  await step('window opens on the first-run screen', async () => {
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
    await visible('[data-testid="create-vault"]', 30_000);
    expectEqual(await browser.getTitle(), 'Fieldcase', 'window title');
    const href = await browser.execute(() => window.location.href);
    if (href.startsWith('http://localhost:5173')) throw new Error(`the app loads the dev server (${href}), not the embedded front end`);
  });
  if (!browser) throw new Error('the app window did not open; see the errors above');

  await step('create a vault with passphrase strength feedback', async () => {
    await setField('[data-testid="cv-name"]', USER);
    await (await visible('[data-testid="cv-role"]')).selectByAttribute('value', 'supervisor');
    await setField('[data-testid="cv-pass"]', 'short');
    expectEqual(await (await visible('[data-testid="cv-strength"]')).getAttribute('data-strength'), 'too_short', 'strength of "short"');
    await setField('[data-testid="cv-pass"]', PASSPHRASE);
    // The verdict is the library's (check_passphrase), a moment after typing.
    const meter = await visible('[data-testid="cv-strength"]');
    await browser
      .waitUntil(async () => (await meter.getAttribute('data-strength')) === 'strong', { timeout: 10_000 })
      .catch(() => {});
    expectEqual(await meter.getAttribute('data-strength'), 'strong', 'strength of the passphrase');
    await setField('[data-testid="cv-repeat"]', PASSPHRASE);
    await click('[data-testid="cv-submit"]');
    await visible('[data-testid="shell"]', 60_000);
    const count = await visible('[data-testid="case-count"]');
    expectEqual(Number(await count.getAttribute('data-count')), 0, 'cases in a new vault');
    const who = await (await visible('[data-testid="acting-as"]')).getText();
    if (!who.includes(USER)) throw new Error(`the sidebar does not say who records: ${who}`);
    if (!existsSync(path.join(vault, 'identity.age'))) throw new Error('no identity file in the new vault');
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

  await step('register a child with the registration/BIA form', async () => {
    await click('[data-testid="new-case"]');
    await (await visible('[data-testid="new-case-type"]')).selectByAttribute('value', 'uasc');
    await setField('[data-testid="new-case-office"]', 'Agadez');
    await click('[data-testid="new-case-submit"]');
    await visible('[data-testid="form-registration_bia"]', 20_000);
    expectEqual(await stage(), 'identified', 'stage of a new case');
    // The lifecycle says why the case cannot be registered yet.
    await tab('lifecycle');
    const blocked = await (await visible('[data-testid="next-step"][data-to="registered"]')).getText();
    if (!blocked.includes('R4')) throw new Error(`registration is not shown as blocked by R4: ${blocked}`);
    await tab('forms');
    await fill('registration_bia', {
      given_names: 'Amadou',
      family_name: 'Diallo',
      sex: 'male',
      age_years: 16,
      child_status: 'unaccompanied',
      nationality: ['GIN'],
      legitimate_basis: 'vital_interests',
      // Where the child is now, picked from the office's area list.
      current_admin_area: 'ner_agadez_agadez',
      current_location_since: '2026-11-18',
    });
    await save('registration_bia');
    await browser.waitUntil(async () => (await (await browser.$('#case-title')).getText()).includes('Amadou Diallo'), {
      timeout: 10_000,
      timeoutMsg: 'the case summary does not show the name',
    });
    await moveTo('registered', 'registration saved');
  });

  await step('record a family tracing result', async () => {
    await pickForm('family_tracing');
    await fill('family_tracing', {
      relative: { name: 'Mariama Diallo' },
      relationship: 'mother',
      relative_alive: 'alive',
      child_consents_contact: 'true',
      tracing_status: 'in_progress',
      tracing_safety_check: 'safe',
      last_known_location: 'Labé',
    });
    await addItem('family_tracing');
  });

  await step('a return before the BID is blocked, with the rule', async () => {
    await moveTo('bia_in_progress', 'BIA opened');
    await pickForm('registration_bia');
    await fill('registration_bia', {
      risk_level: 'medium',
      child_views: 'Wants to see his mother again.',
      heard_alone: 'true',
      protection_concerns: ['abandonment'],
      bid_required: 'true',
      // Conditional fields the library asks before bia_completed.
      bid_direction: 'durable_solution_uasc',
      guardian_appointed: 'false',
      bia_approval_status: 'approved',
      bia_approval: { by: USER, method: 'signature', date: '2026-11-20' },
    });
    await save('registration_bia');
    await moveTo('bia_completed', 'BIA signed');
    await tab('lifecycle');
    const ret = await visible('[data-testid="next-step"][data-to="solution_in_progress"]');
    expectEqual(await ret.getAttribute('data-blocked'), 'true', 'return without BID shown as blocked');
    const why = await ret.getText();
    if (!why.includes('R1a')) throw new Error(`the block does not name R1a: ${why}`);
    // Trying anyway is refused by the library with the same rule.
    await click('[data-testid="move-solution_in_progress"]');
    const err = await visible('[data-testid="stage-error"]');
    if (!(await err.getText()).includes('R1a')) throw new Error(`refusal does not name R1a: ${await err.getText()}`);
    expectEqual(await stage(), 'bia_completed', 'stage after the refused return');
  });

  await step('record the BID as the panel', async () => {
    await tab('bid');
    await click('[data-testid="bid-submission-edit"] summary');
    await fill('bid_submission', {
      submission_report: 'Amadou wishes to return to his mother in Labé.',
      child_interview: '2026-11-21',
      criteria_views: 'Clear wish to return.',
      caseworker_recommendation: 'return_reintegration',
      // An unaccompanied child's guardian is heard (asked before bid_pending).
      guardian_view: 'No guardian appointed yet; the agency acts on a best-interests basis.',
      guardian_present: 'false',
    });
    await save('bid_submission');
    await moveTo('bid_pending', 'referred to the panel');
    // The panel chair records the decision on this machine as a person of
    // their own: added once with their passphrase and role, then switched
    // to with that passphrase.
    await click('[data-testid="nav-settings"]');
    await setField('[data-testid="person-user"]', 'Panel chair');
    await (await visible('[data-testid="person-role"]')).selectByAttribute('value', 'bid_panel');
    await setField('[data-testid="person-pass"]', CHAIR_PASSPHRASE);
    await click('[data-testid="person-submit"]');
    await visible('[data-testid="person-added"]', 60_000);
    // Another person's passphrase is refused and changes nothing.
    await setField('[data-testid="acting-user"]', 'Panel chair');
    await setField('[data-testid="acting-pass"]', PASSPHRASE);
    await click('[data-testid="acting-submit"]');
    await visible('[data-testid="acting-error"]', 60_000);
    if ((await (await visible('[data-testid="acting-as"]')).getText()).includes('Panel chair')) {
      throw new Error('a wrong passphrase switched the person');
    }
    await setField('[data-testid="acting-user"]', 'Panel chair');
    await setField('[data-testid="acting-pass"]', CHAIR_PASSPHRASE);
    await click('[data-testid="acting-submit"]');
    await browser.waitUntil(async () => (await (await browser.$('[data-testid="acting-as"]')).getText()).includes('Panel chair'), {
      timeout: 10_000,
      timeoutMsg: 'the sidebar does not show the panel chair',
    });
    await click('[data-testid="nav-cases"]');
    await click('[data-testid="case-row"] td');
    await tab('bid');
    await visible('[data-testid="bid-panel"]');
    const form = 'bid_decision';
    await fill(form, { panel_date: '2026-11-23', panel_decision: 'approves_recommendation' });
    await fill(form, { decided_solution: 'return_reintegration', decision_reasons: 'Mother located, willing and able; the child wishes to return.' });
    for (let i = 0; i < 3; i++) {
      await click(`[data-testid="form-bid_decision"] [data-testid="add-panel_members"]`);
      await setField(`[data-testid="form-bid_decision"] [data-field="panel_members[${i}].member"] [id$="-name"]`, `Member ${i + 1}`);
      await setField(fieldSel(form, `panel_members[${i}].voting`), 'true');
      await setField(fieldSel(form, `panel_members[${i}].present`), 'true');
      // One chair present (the library's panel rule).
      await setField(fieldSel(form, `panel_members[${i}].role`), i === 0 ? 'chair' : 'member');
    }
    await save('bid_decision');
    await moveTo('bid_decided', 'panel decision');
    await tab('bid');
    await visible('[data-testid="bid-print"]');
  });

  await step('schedule and record a follow-up visit', async () => {
    // Back to the vault's own person, with her passphrase.
    await click('[data-testid="nav-settings"]');
    await click('[data-testid="acting-back"]');
    await setField('[data-testid="acting-pass"]', PASSPHRASE);
    await click('[data-testid="acting-submit"]');
    await browser.waitUntil(async () => !(await (await browser.$('[data-testid="acting-as"]')).getText()).includes('Panel chair'), {
      timeout: 30_000,
      timeoutMsg: 'the sidebar still shows the panel chair',
    });
    await click('[data-testid="nav-cases"]');
    await click('[data-testid="case-row"] td');
    await tab('visits');
    await visible('[data-testid="form-follow_up_visit"]');
    await fill('follow_up_visit', FOLLOW_UP_VISIT);
    await addItem('follow_up_visit');
    await click('[data-testid="nav-calendar"]');
    await visible('[data-testid="calendar"]');
  });

  await step('the whole case record: a caregiver, a case plan, a referral with an appointment, a spontaneous reunification', async () => {
    await click('[data-testid="nav-cases"]');
    await click('[data-testid="case-row"] td');
    // The current location was picked from the area list at registration.
    await pickForm('registration_bia');
    const area = await browser.execute(
      (sel) => { const e = document.querySelector(sel); return e ? e.options[e.selectedIndex]?.textContent ?? '' : ''; },
      fieldSel('registration_bia', 'current_admin_area', 'select'),
    );
    if (!/Agadez/.test(area)) throw new Error(`the current area does not read as a place from the list: "${area}"`);
    await pickForm('caregiver');
    await fill('caregiver', { caregiver_name: 'Hawa Bah', relationship: 'aunt', willing_to_continue: 'yes', recorded_date: '2026-11-20' });
    await addItem('caregiver');
    await pickForm('case_plan');
    await fill('case_plan', { plan_date: '2026-11-24', plan_author: { name: 'Awa Diallo' } });
    await click('[data-testid="form-case_plan"] [data-testid="add-goals"]');
    await fill('case_plan', { 'goals[0].goal_domain': 'family', 'goals[0].goal': 'Safe return to the mother in Labé' });
    await click('[data-testid="form-case_plan"] [data-testid="add-actions"]');
    await fill('case_plan', {
      'actions[0].action': 'Agree the travel date with the Conakry office',
      'actions[0].responsible': 'Awa Diallo',
      'actions[0].due_date': '2026-12-15',
      'actions[0].action_status': 'in_progress',
    });
    await save('case_plan');
    await tab('referrals');
    await visible('[data-testid="form-referral"]');
    await fill('referral', {
      referral_date: '2026-11-25',
      service_type: 'safe_shelter',
      urgency: 'routine',
      internal_external: 'external',
      provider_id: 'ner_agadez_transit_centre',
      appointment_datetime: '2026-12-10T09:30',
      reason: 'A safe place to stay until the return.',
      expected_outcome: 'Shelter with daily activities.',
      consent_for_referral: { by: 'child', method: 'signature', date: '2026-11-25' },
      information_shared: ['name_age_sex', 'case_summary'],
      status: 'pending',
    });
    await addItem('referral');
    await screenshot('case-record-referral');
    await pickForm('reunification');
    await fill('reunification', {
      reunification_date: '2026-11-20',
      reunification_place: 'Agadez bus station',
      reunified_with: { name: 'Mariama Diallo' },
      relationship: 'mother',
      reunification_type: 'spontaneous',
      verified_adult: 'false',
    });
    await fill('reunification', { not_verified_adult_reason: 'Met by chance at the bus station; not verified yet.' });
    await addItem('reunification');
    // A spontaneous reunification asks for the adult to be verified.
    await browser.waitUntil(async () => (await browser.execute(() => document.body.innerText)).includes('Spontaneous reunification: verify and assess'), {
      timeout: 10_000,
      timeoutMsg: 'no task to verify the spontaneous reunification',
    });
    await screenshot('case-record-reunification-task');
  });

  await step('search a variant spelling: a partial match, explained word by word', async () => {
    // How a relative might spell Amadou Diallo, with a third name the case
    // does not have: ranked partial matching still finds the child and says
    // which word matched how, and which did not.
    await click('[data-testid="nav-cases"]');
    await setField('[data-testid="case-search"]', 'Amadu Jallo Kaba');
    const matched = await visible('[data-testid="case-matched"]', 20_000);
    const text = await matched.getText();
    for (const want of ['Amadou ≈ amadu', 'Diallo ≈ jallo', 'kaba: not found']) {
      if (!text.includes(want)) throw new Error(`the explanation of the partial match lacks "${want}": ${text}`);
    }
    expectEqual((await browser.$$('[data-testid="case-row"]')).length, 1, 'cases found by the variant spelling');
    await screenshot('search-variant-spelling');
    await setField('[data-testid="case-search"]', '');
  });

  await step('attach a scanned document through the file dialog: listed, nothing of it in plaintext in the vault', async () => {
    await click('[data-testid="nav-cases"]');
    await click('[data-testid="case-row"] td');
    await tab('attachments');
    // A scanned document (a photo would need the child's consent to photo
    // use, R4, which this case does not have): a PDF header, then a marker
    // that must never appear in a vault file.
    const marker = 'e2e-attachment-plaintext-marker-5d1f';
    const scan = path.join(work, 'files', 'school-card.pdf');
    mkdirSync(path.dirname(scan), { recursive: true });
    writeFileSync(scan, `%PDF-1.4\n${marker.repeat(64)}\n%%EOF\n`);
    hook.answer(scan);
    await click('[data-testid="attach-choose"]');
    await browser.waitUntil(async () => (await (await browser.$('[data-testid="attachments"]')).getText()).includes('school-card.pdf'), {
      timeout: 20_000,
      timeoutMsg: 'the attachment chosen in the dialog is not listed',
    });
    const listed = await (await browser.$('[data-testid="attachments"]')).getText();
    if (!listed.includes('application/pdf')) throw new Error(`the attachment is not listed as a PDF: ${listed}`);
    const inVault = [];
    const walk = (dir) => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        const p = path.join(dir, e.name);
        if (e.isDirectory()) walk(p);
        else if (readFileSync(p).includes(marker)) inVault.push(path.relative(vault, p));
      }
    };
    walk(vault);
    expectEqual(inVault.join(', '), '', 'vault files holding the attachment in plaintext');
  });

  await step('Reports: a period, a breakdown, the chart drawn, and a CSV export through the folder dialog', async () => {
    await click('[data-testid="nav-reports"]');
    await setField('[data-testid="report-from"]', '2026-01-01');
    await setField('[data-testid="report-to"]', '2026-12-31');
    // The internal view: with one child every cell is under the
    // suppression threshold, and the chart would have nothing to draw.
    await click('[data-testid="report-internal"]');
    await click('[data-testid="report-show"]');
    const first = await visible('[data-indicator="1"] [data-testid="report-breakdown"]', 30_000);
    await first.selectByAttribute('value', 'age_band_registration');
    // The bars are drawn on the canvas in the chart's colour (#3b6ea8).
    const barPixels = () =>
      browser.execute(() => {
        const c = document.querySelector('[data-indicator="1"] [data-testid="report-chart"]');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let n = 0;
        for (let i = 0; i < d.length; i += 4) if (d[i] === 59 && d[i + 1] === 110 && d[i + 2] === 168 && d[i + 3] > 200) n++;
        return n;
      });
    await browser.waitUntil(async () => (await barPixels()) > 50, { timeout: 10_000, timeoutMsg: 'no bar drawn on the chart' });
    const table = await (await visible('[data-indicator="1"] table')).getText();
    if (!/15-17|15–17/.test(table)) throw new Error(`the age-band breakdown has no band of a 16-year-old: ${table}`);
    await browser.execute(() => document.querySelector('[data-indicator="1"]').scrollIntoView({ block: 'start' }));
    await screenshot('reports-chart');
    const dir = path.join(work, 'exports');
    mkdirSync(dir);
    hook.answer(dir);
    await click('[data-testid="report-export-dir-choose"]');
    await browser.waitUntil(async () => (await (await browser.$('[data-testid="report-export-dir"]')).getText()).trim() === dir, {
      timeout: 10_000,
      timeoutMsg: 'the export folder chosen in the dialog is not shown',
    });
    await click('[data-testid="report-export"]');
    await visible('[data-testid="report-exported"]', 30_000);
    const files = readdirSync(dir).filter((f) => f.endsWith('.csv'));
    if (files.length === 0) throw new Error('no CSV file written');
    for (const f of files) {
      const lines = readFileSync(path.join(dir, f), 'utf8').trim().split('\n');
      if (lines.length < 2) throw new Error(`${f} has no rows: ${lines.join(' / ')}`);
    }
    log(`CSV export: ${files.length} files`);
  });

  await step('Calendar: overdue, this week and later; nothing before this week under this week', async () => {
    await click('[data-testid="nav-calendar"]');
    await visible('[data-testid="calendar"]');
    for (const h of ['#cal-overdue', '#cal-week', '#cal-later']) await visible(h);
    await click('[data-testid="only-visits"]');
    const today = new Date().toISOString().slice(0, 10);
    const dues = await browser.execute(() => [...document.querySelectorAll('[data-testid="cal-week-list"] li')].map((li) => li.dataset.due));
    const early = dues.filter((d) => d < today);
    expectEqual(early.join(', '), '', 'tasks due before today listed under this week');
    const overdueOk = await browser.execute(() =>
      [...document.querySelectorAll('[data-testid="cal-overdue-list"] li')].every((li) => li.dataset.overdue === 'true'));
    expectEqual(overdueOk, true, 'every task under overdue is marked overdue');
    const text = await browser.execute(() => document.querySelector('[data-testid="calendar"]').innerText);
    for (const code of ['visit_due', 'case_plan_due', 'bia_in_progress']) {
      if (text.includes(code)) throw new Error(`the calendar shows the code ${code}`);
    }
  });

  await step('Calendar in Arabic: right to left, headings translated', async () => {
    await (await browser.$('[data-testid="language"]')).selectByAttribute('value', 'ar');
    await browser.waitUntil(async () => (await browser.execute(() => document.documentElement.dir)) === 'rtl', {
      timeout: 5_000,
      timeoutMsg: 'document direction did not become rtl',
    });
    const title = await (await visible('#cal-title')).getText();
    if (!/[\u0600-\u06FF]/.test(title)) throw new Error(`the calendar title is not in Arabic: ${title}`);
    const latin = await browser.execute(() =>
      [...document.querySelectorAll('[data-testid="calendar"] h1, [data-testid="calendar"] h2')].map((h) => h.textContent).filter((x) => /[A-Za-z]{3,}/.test(x)));
    expectEqual(latin.join(' | '), '', 'calendar headings left in English');
    await screenshot('calendar-arabic');
    await (await browser.$('[data-testid="language"]')).selectByAttribute('value', 'en');
  });

  await step('Settings: idle lock, switching and adding a person', async () => {
    await click('[data-testid="nav-settings"]');
    await visible('[data-testid="settings"]');
    const idle = Number(await (await visible('[data-testid="idle-minutes"]')).getValue());
    if (!(idle >= 1 && idle <= 120)) throw new Error(`idle minutes: ${idle}`);
    const now = await (await visible('[data-testid="acting-now"]')).getText();
    if (!now.includes(USER) || now.includes('supervisor')) throw new Error(`who records, with the role's label not its code: ${now}`);
    await visible('[data-testid="person-form"]');
  });

  if (existsSync(path.join(path.dirname(fileURLToPath(import.meta.url)), 'sync-steps.mjs'))) {
    const { syncSteps } = await import('./sync-steps.mjs');
    await syncSteps({ browser, step, visible, setField, screenshot, expectEqual, log, cliBin, desktopBin, work, vault, PASSPHRASE, USER, results, tauriDriver, nativeDriver, screens });
  }

  if (existsSync(path.join(path.dirname(fileURLToPath(import.meta.url)), 'partner-steps.mjs'))) {
    const { partnerSteps } = await import('./partner-steps.mjs');
    await partnerSteps({ log, cliBin, desktopBin, results, tauriDriver, nativeDriver, screens });
  }

  if (existsSync(path.join(path.dirname(fileURLToPath(import.meta.url)), 'demo-steps.mjs'))) {
    const { demoSteps } = await import('./demo-steps.mjs');
    await demoSteps({ log, cliBin, desktopBin, results, tauriDriver, nativeDriver, screens });
  }

  await step('Arabic lays the window out right to left', async () => {
    await click('[data-testid="nav-cases"]');
    await (await browser.$('[data-testid="language"]')).selectByAttribute('value', 'ar');
    await browser.waitUntil(async () => (await browser.execute(() => document.documentElement.dir)) === 'rtl', {
      timeout: 5_000,
      timeoutMsg: 'document direction did not become rtl',
    });
    expectEqual(await (await browser.$('[data-testid="lock"]')).getText(), 'قفل', 'Arabic lock button');
    // The sidebar is on the right in RTL.
    const side = await browser.execute(() => {
      const r = document.querySelector('.sidebar').getBoundingClientRect();
      return r.left > window.innerWidth / 2;
    });
    expectEqual(side, true, 'sidebar on the right');
    await screenshot('arabic-cases');
    await (await browser.$('[data-testid="language"]')).selectByAttribute('value', 'en');
  });

  await step('lock hides the case data and unlock brings it back', async () => {
    await click('[data-testid="lock"]');
    await visible('[data-testid="unlock-screen"]');
    const text = await browser.execute(() => document.body.innerText);
    if (text.includes('Amadou')) throw new Error('case data still in the window after locking');
    expectEqual(await (await browser.$('#passphrase')).getValue(), '', 'passphrase field after lock');
    await setField('#passphrase', PASSPHRASE);
    await (await browser.$('button[type="submit"]')).click();
    const count = await visible('[data-testid="case-count"]', 30_000);
    expectEqual(Number(await count.getAttribute('data-count')), 1, 'cases after unlocking again');
    const stored = await browser.execute(() => localStorage.length + sessionStorage.length);
    expectEqual(stored, 0, 'items in localStorage/sessionStorage');
  });

  // A reporting viewer on the same machine sees the case list without
  // names (need-to-know is the library's: docs/visibility.md), and the case
  // record is refused to them.
  await step("a viewer's case list has no names", async () => {
    await click('[data-testid="nav-settings"]');
    await setField('[data-testid="person-user"]', 'Visiting auditor');
    await (await visible('[data-testid="person-role"]')).selectByAttribute('value', 'viewer');
    await setField('[data-testid="person-pass"]', VIEWER_PASSPHRASE);
    await click('[data-testid="person-submit"]');
    await visible('[data-testid="person-added"]', 60_000);
    await setField('[data-testid="acting-user"]', 'Visiting auditor');
    await setField('[data-testid="acting-pass"]', VIEWER_PASSPHRASE);
    await click('[data-testid="acting-submit"]');
    await browser.waitUntil(async () => (await (await browser.$('[data-testid="acting-as"]')).getText()).includes('Visiting auditor'), {
      timeout: 10_000,
      timeoutMsg: 'the sidebar does not show the viewer',
    });
    await click('[data-testid="nav-cases"]');
    const count = await visible('[data-testid="case-count"]', 30_000);
    expectEqual(Number(await count.getAttribute('data-count')), 1, "cases in the viewer's list");
    const row = await (await visible('[data-testid="case-row"]')).getText();
    if (row.includes('Amadou') || row.includes('Diallo')) throw new Error(`the viewer's list shows the child's name: ${row}`);
    if (!row.includes('withheld')) throw new Error(`the viewer's list does not say the name is withheld: ${row}`);
    expectEqual(await (await browser.$('[data-testid="new-case"]')).isExisting(), false, 'register button for a viewer');
    await screenshot('viewer-case-list');
    // Back to the vault's first person: lock, and unlock with their passphrase.
    await click('[data-testid="lock"]');
    await visible('[data-testid="unlock-screen"]');
    await setField('#passphrase', PASSPHRASE);
    await (await browser.$('button[type="submit"]')).click();
    await visible('[data-testid="case-count"]', 30_000);
  });

  // The app keeps WebKit's data in a private directory for the run
  // (src-tauri/src/main.rs) and removes it at exit. After the whole
  // session, with the app closed, that directory is gone and nothing of the
  // app's or WebKit's is on disk under the data and cache directories.
  await step('the webview kept no data on disk', async () => {
    await Promise.race([browser.deleteSession().catch(() => {}), sleep(10_000)]);
    browser = null;
    // A driver ends a session by killing the app, so its directory can be
    // left behind; the next start removes every one whose app is gone.
    const tmpdir = process.env.TMPDIR;
    const left = () => readdirSync(tmpdir).filter((n) => n.startsWith('fieldcase-webview-'));
    await sleep(1_000);
    const earlier = left();
    log(`window data directories of the closed apps: ${earlier.length ? earlier.join(', ') : 'none'}`);
    const again = spawn(desktopBin, ['--vault', path.join(work, 'vault')], { stdio: 'ignore', env: process.env });
    let now = left();
    for (let i = 0; i < 60; i++) {
      now = left();
      if (now.some((n) => !earlier.includes(n)) && now.every((n) => !earlier.includes(n))) break;
      await sleep(250);
    }
    again.kill('SIGKILL');
    for (const n of left()) rmSync(path.join(tmpdir, n), { recursive: true, force: true });
    if (!now.some((n) => !earlier.includes(n))) throw new Error('the app started again made no window data directory');
    expectEqual(now.filter((n) => earlier.includes(n)).join(', '), '', 'window data of earlier runs left once the app started again');
    const home = process.env.HOME;
    const files = [];
    const walk = (dir) => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        const p = path.join(dir, e.name);
        if (e.isDirectory()) walk(p);
        else files.push(path.relative(home, p));
      }
    };
    walk(home);
    const system = files.filter((f) => /^\.cache\/(fontconfig|mesa_shader_cache|dconf)\//.test(f)).length;
    log(`files under the session's home: ${files.length} (${system} of them the system's font, shader and settings caches)`);
    const appOrWebKit = /org\.fieldcase\.desktop|fieldcase-desktop|webkitgtk|WebKit|IndexedDB|localstorage|CacheStorage|cookies/i;
    // Allowed: the system's own caches (fonts, GPU shaders, GTK's dconf settings).
    const kept = files.filter((f) => appOrWebKit.test(f) || (/^\.local\/share\/|^\.cache\//.test(f) && !/^\.cache\/(fontconfig|mesa_shader_cache|dconf)\//.test(f)));
    expectEqual(kept.join(', '), '', 'files the app or its webview left under ~/.local/share and ~/.cache');
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
