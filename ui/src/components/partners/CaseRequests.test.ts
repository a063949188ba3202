import { afterEach, describe, expect, it, vi } from 'vitest';
import { cleanup, fireEvent, render, screen } from '@testing-library/svelte';
import CaseRequests from './CaseRequests.svelte';
import type { CaseRequestEntry, PartnerApi, RequestPreviewDto } from '../../lib/api-partners';

const L = (en: string) => ({ en, fr: `${en} (fr)`, ar: `${en} (ar)` });
const CASE = '0190aaaa-0000-7000-8000-000000000001';
const REL = '0190aaaa-0000-7000-8000-000000000002';
const REQ = '0190aaaa-0000-7000-8000-000000000003';

const preview: RequestPreviewDto = {
  kind: 'family_assessment',
  due: '2026-03-01',
  shared: [
    { form: 'registration_bia', form_title: L('Registration'), field: 'given_names', field_label: L('Given names'), value: 'Fatima', display: 'Fatima' },
    { form: 'family_tracing', form_title: L('Family tracing'), field: 'relative', field_label: L('Relative'), value: { name: 'Amina Idris' }, display: { name: 'Amina Idris' } },
    { form: 'registration_bia', form_title: L('Registration'), field: 'sex', field_label: L('Sex'), value: 'female', display: { $label: L('Female') } },
  ],
  blocked_by: [],
};

const sent: CaseRequestEntry = {
  request_id: REQ, kind: 'family_assessment', partner: 'Nyala office', on_paper: false, status: 'received',
  due: '2026-03-01', answer_mode: null,
};

afterEach(cleanup);

function fakeApi(over: Partial<PartnerApi> = {}): PartnerApi {
  let listed: CaseRequestEntry[] = [];
  return {
    partners: async () => [
      { partner_id: 'p1', name: 'Nyala office', country: 'SDN', on_paper: false },
      { partner_id: 'p2', name: 'Abeche', country: 'TCD', on_paper: true },
    ],
    kinds: async () => [
      { id: 'family_assessment', labels: L('Family assessment'), needs_item: true, item_form: 'family_tracing', due_days: 30,
        answer_form: 'family_tracing', answer_fields: ['willingness'] },
    ],
    caseRequests: async () => listed,
    preview: vi.fn(async () => preview),
    send: vi.fn(async () => {
      listed = [sent];
      return { request_id: REQ, written: { path: '/media/usb/request.fcb', bytes: 900 }, printout: null };
    }),
    ...over,
  } as unknown as PartnerApi;
}

async function choose(testid: string, value: string) {
  const el = (await screen.findByTestId(testid)) as HTMLSelectElement;
  await vi.waitFor(() => expect([...el.options].some((o) => o.value === value)).toBe(true));
  await fireEvent.change(el, { target: { value } });
}

describe('a case’s requests to partners', () => {
  it('shows exactly what the library will share before sending, then lists the request with its status', async () => {
    const api = fakeApi();
    const places = async () => [{ path: '/media/usb', kind: 'usb' }];
    render(CaseRequests, { caseId: CASE, relatives: [{ item: REL, name: 'Amina Idris (mother)' }], api, loadPlaces: places });
    const sendButton = (await screen.findByTestId('partner-send')) as HTMLButtonElement;
    expect(sendButton.disabled).toBe(true);
    await choose('partner-pick', 'p1');
    await choose('partner-kind', 'family_assessment');
    expect(screen.queryByTestId('partner-preview')).toBeNull();
    await choose('partner-about', REL);
    await vi.waitFor(() => expect(screen.getByTestId('partner-preview')).toBeTruthy());
    expect(api.preview).toHaveBeenCalledWith(CASE, 'family_assessment', REL);
    const shown = screen.getAllByTestId('partner-shared-value').map((e) => e.textContent);
    // A value-list code shows as its label, never as the code.
    expect(shown).toEqual(['Fatima', 'Amina Idris', 'Female']);
    // A partner with Fieldcase: the file name is suggested in the first place.
    expect(screen.getByTestId('partner-path').textContent).toBe('/media/usb/request-family-assessment.fcb');
    expect(sendButton.disabled).toBe(false);
    await fireEvent.click(sendButton);
    await vi.waitFor(() => expect(screen.getByTestId('partner-sent').textContent).toContain('/media/usb/request.fcb'));
    expect(api.send).toHaveBeenCalledWith({
      caseId: CASE, kind: 'family_assessment', about: REL, partner: 'p1', path: '/media/usb/request-family-assessment.fcb',
    });
    const row = await screen.findByTestId('partner-request');
    expect(row.dataset.status).toBe('received');
    expect(row.textContent).toContain('Received by the partner');
  });

  it('keeps a request a rule refuses from being sent, naming the rule', async () => {
    const refused = { ...preview, blocked_by: [
      { rule: 'R4', code: 'partner_request_scope_missing', params: { scopes: 'cross_border_transfer', kind: 'family_assessment' }, message: 'the consent does not cover cross_border_transfer' },
    ] };
    const api = fakeApi({ preview: vi.fn(async () => refused) });
    render(CaseRequests, { caseId: CASE, relatives: [{ item: REL, name: 'Amina' }], api, loadPlaces: async () => [] });
    await choose('partner-pick', 'p2');
    await choose('partner-kind', 'family_assessment');
    await choose('partner-about', REL);
    await vi.waitFor(() => expect(screen.getByTestId('partner-blocked').textContent).toContain('R4'));
    // What failed is said from the violation's code, with its values.
    expect(screen.getByTestId('partner-blocked').textContent).toContain(
      'the consent does not cover cross_border_transfer, which a family_assessment request needs',
    );
    expect((screen.getByTestId('partner-send') as HTMLButtonElement).disabled).toBe(true);
  });

  it('withdraws only with a reason, and records an answer by hand with its author', async () => {
    const open: CaseRequestEntry = { ...sent, partner: 'Abeche', on_paper: true, status: 'overdue' };
    const withdraw = vi.fn(async () => null);
    const recordAnswer = vi.fn(async () => undefined);
    const api = fakeApi({ caseRequests: async () => [open], withdraw, recordAnswer });
    render(CaseRequests, { caseId: CASE, api, loadPlaces: async () => [] });
    await fireEvent.click(await screen.findByTestId('partner-withdraw'));
    const yes = screen.getByTestId('partner-withdraw-yes') as HTMLButtonElement;
    expect(yes.disabled).toBe(true);
    expect(screen.queryByTestId('partner-withdraw-path')).toBeNull();
    await fireEvent.input(screen.getByTestId('partner-withdraw-reason'), { target: { value: 'family found' } });
    await fireEvent.click(yes);
    await vi.waitFor(() => expect(withdraw).toHaveBeenCalledWith(REQ, 'family found', null));
    expect(screen.getByTestId('partner-act-note').textContent).toContain('destroy the printed request');

    await fireEvent.click(screen.getByTestId('partner-record'));
    const record = screen.getByTestId('partner-record-yes') as HTMLButtonElement;
    expect(record.disabled).toBe(true);
    await fireEvent.input(screen.getByTestId('partner-answered-by'), { target: { value: 'M. Osman' } });
    await fireEvent.click(record);
    await vi.waitFor(() => expect(recordAnswer).toHaveBeenCalledWith(REQ, 'M. Osman', {}));
  });
});
