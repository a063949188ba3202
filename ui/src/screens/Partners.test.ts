import { afterEach, describe, expect, it, vi } from 'vitest';
import { cleanup, fireEvent, render, screen } from '@testing-library/svelte';
import Partners from './Partners.svelte';
import type { PartnerApi, PartnerImported, ReceivedRequestEntry } from '../lib/api-partners';
import type { FormDefDto } from '../lib/bindings/FormDefDto';

// The system's dialog (opened by the Rust side): answers what the test sets.
const dialog = vi.hoisted(() => ({ next: null as string | null }));
vi.mock('../lib/api-dialog', async (importOriginal) => ({
  ...(await importOriginal<typeof import('../lib/api-dialog')>()),
  dialogApi: { choose: async () => dialog.next, attachFile: async () => null },
}));

async function pick(testid: string, path: string) {
  dialog.next = path;
  await fireEvent.click(await screen.findByTestId(`${testid}-choose`));
  await vi.waitFor(() => expect(screen.getByTestId(testid).textContent).toBe(path));
}

const L = (en: string) => ({ en, fr: `${en} (fr)`, ar: `${en} (ar)` });
const REQ = '0190aaaa-0000-7000-8000-000000000003';

const answerForm: FormDefDto = {
  id: 'family_tracing', code: 'F5', title: L('Family tracing'), applies_to: ['uasc'], stages: [], sections: [],
  repeating: true,
  fields: [
    { name: 'willingness', type: 'enum', required: false, required_if: null, shown_if: null, sensitivity: 'normal',
      labels: L('Willingness'), help: null, options: [{ value: 'yes', labels: L('Yes') }, { value: 'no', labels: L('No') }],
      min: null, max: null, min_items: null, fields: [] },
    { name: 'child_disclosure', type: 'text', required: false, required_if: null, shown_if: null, sensitivity: 'normal',
      labels: L('Not an answer field'), help: null, options: [], min: null, max: null, min_items: null, fields: [] },
  ],
};

const received: ReceivedRequestEntry = {
  request_id: REQ, kind: 'family_assessment', partner: 'Agadez office', status: 'received', due: '2026-03-01',
  shared: [{ form: 'family_tracing', form_title: L('Family tracing'), field: 'relative', field_label: L('Relative'),
    value: { name: 'Amina Idris' }, display: { name: 'Amina Idris' } },
    { form: 'family_tracing', form_title: L('Family tracing'), field: 'relationship', field_label: L('Relationship'),
      value: 'mother', display: { $label: L('Mother') } }],
  withheld: null, answer_form: 'family_tracing', answer_fields: ['willingness'],
};

const outcome = (over: Partial<PartnerImported>): PartnerImported => ({
  what: 'request', request_id: REQ, partner: 'Agadez office', case_id: null, author: null, due: '2026-03-01',
  no_change: false, dry_run: true, receipt: null, ...over,
});

afterEach(cleanup);

function setup(over: Partial<PartnerApi> = {}) {
  let inbox: ReceivedRequestEntry[] = [];
  const api = {
    kinds: async () => [{ id: 'family_assessment', labels: L('Family assessment'), needs_item: true, item_form: 'family_tracing',
      due_days: 30, answer_form: 'family_tracing', answer_fields: ['willingness'] }],
    received: async () => inbox,
    importBundle: vi.fn(async (_p: string, dryRun: boolean, receipt: string | null) => {
      if (!dryRun) inbox = [received];
      return outcome({ dry_run: dryRun, receipt: receipt ? { path: receipt, bytes: 700 } : null });
    }),
    answer: vi.fn(async (_r: string, _v: unknown, path: string) => ({ path, bytes: 800 })),
    ...over,
  } as unknown as PartnerApi;
  render(Partners, {
    api,
    loadPlaces: async () => [{ path: '/media/usb', kind: 'usb' }],
    findFiles: async () => [],
    loadForms: async () => [answerForm],
  });
  return api;
}

describe('Partners: the partner’s side', () => {
  it('checks a request, imports it with its receipt, shows it read only and sends only the answer fields', async () => {
    const api = setup();
    await pick('partner-import-path', '/media/usb/req.fcb');
    await fireEvent.click(screen.getByTestId('partner-import-check'));
    await vi.waitFor(() => expect(screen.getByTestId('partner-import-checked').textContent).toContain('answer due 2026-03-01'));
    expect(api.importBundle).toHaveBeenCalledWith('/media/usb/req.fcb', true, null);
    const receipt = screen.getByTestId('partner-receipt-path').textContent;
    expect(receipt).toBe('/media/usb/receipt-request-0190aaaa.fcb');
    await fireEvent.click(screen.getByTestId('partner-import-apply'));
    await vi.waitFor(() => expect(screen.getByTestId('partner-imported').textContent).toContain(receipt));
    expect(api.importBundle).toHaveBeenLastCalledWith('/media/usb/req.fcb', false, receipt);

    const item = await screen.findByTestId('partner-received');
    expect(screen.getAllByTestId('partner-received-value').map((e) => e.textContent)).toEqual(['Amina Idris', 'Mother']);
    expect(item.querySelector('input[type=text]')).toBeNull();
    await fireEvent.click(screen.getByTestId('partner-answer'));
    const fields = screen.getByTestId('partner-answer-fields');
    expect(fields.textContent).toContain('Willingness');
    expect(fields.textContent).not.toContain('Not an answer field');
    await fireEvent.change(fields.querySelector('select')!, { target: { value: 'yes' } });
    await fireEvent.click(screen.getByTestId('partner-answer-send'));
    await vi.waitFor(() => expect(screen.getByTestId('partner-answer-note').textContent).toContain('/media/usb/answer-'));
    expect(api.answer).toHaveBeenCalledWith(REQ, { willingness: 'yes' }, '/media/usb/answer-family-assessment-0190aaaa.fcb');
  });

  it('says what a receipt or an answer did on the requesting side, and shows a refusal', async () => {
    const importBundle = vi
      .fn()
      .mockResolvedValueOnce(outcome({ what: 'answer', author: 'osman', case_id: 'c1', due: null }))
      .mockRejectedValueOnce({ code: 'partner_replay', message: 'this answer (bundle x) was imported before', fields: [], violations: [], params: {} });
    setup({ importBundle });
    await pick('partner-import-path', '/media/usb/ans.fcb');
    await fireEvent.click(screen.getByTestId('partner-import-check'));
    await vi.waitFor(() => expect(screen.getByTestId('partner-import-checked').textContent).toContain('from osman of Agadez office'));
    expect(screen.queryByTestId('partner-receipt-path')).toBeNull();
    await fireEvent.click(screen.getByTestId('partner-import-apply'));
    await vi.waitFor(() => expect(screen.getByTestId('partner-import-error').textContent).toContain('imported before'));
  });

  it('tells a data manager the shared values are withheld, not what they are', async () => {
    setup({ received: async () => [{ ...received, shared: [], withheld: 'metadata_only' }] });
    const note = await screen.findByTestId('partner-withheld');
    expect(note.textContent).toContain('a data manager sees case metadata');
    expect(screen.queryByTestId('partner-received-value')).toBeNull();
  });
});
