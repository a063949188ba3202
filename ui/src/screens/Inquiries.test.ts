import { afterEach, describe, expect, it, vi } from 'vitest';
import { cleanup, fireEvent, render, screen } from '@testing-library/svelte';
import Inquiries from './Inquiries.svelte';
import type { InquiryApi, InquiryDto, InquiryMatchesDto } from '../lib/api-inquiries';
import type { FormDefDto } from '../lib/bindings/FormDefDto';

const L = (en: string) => ({ en, fr: `${en} (fr)`, ar: `${en} (ar)` });
const ID = '0190aaaa-0000-7000-8000-000000000009';
const CHILD = '0190aaaa-0000-7000-8000-000000000001';

const field = (name: string, options: string[] = []) => ({
  name, type: options.length ? 'enum' : 'text', required: false, required_if: null, shown_if: null, sensitivity: 'normal',
  labels: L(name), help: null, options: options.map((value) => ({ value, labels: L(`${value} label`) })),
  min: null, max: null, min_items: null, fields: [],
});

const form: FormDefDto = {
  id: 'inquiry', code: 'F22', title: L('Tracing inquiry'), applies_to: ['inquiry'], stages: [], sections: [], repeating: false,
  fields: [field('inquirer_name'), field('sought_given_names'), field('status', ['open', 'matched', 'closed'])],
};

const inquiry: InquiryDto = {
  id: ID, number: 'AGZ-INQ-2026-00001', office: 'Agadez', recorded_by: 'Awa', caseworker: null, status: 'open',
  values: { inquirer_name: 'Mariam Diallo', sought_given_names: 'Mohamed', sought_family_name: 'Diallo', inquiry_date: '2026-03-02', status: 'open' },
  hidden_fields: [],
};

const found: InquiryMatchesDto = {
  matches: [{ kind: 'registered_child', id: CHILD, number: 'AGZ-2026-00001', name: 'Mohamed Diallo', score: 82,
    parts: [
      { part: 'name', code: 'same_given_name', params: { a: 'mohamed', b: 'mohamed' }, detail: 'same given name: mohamed / mohamed', points: 40 },
      { part: 'age', code: 'ages', params: { a: '15', b: '12' }, detail: 'ages 15 / 12', points: -5 },
    ] }],
  hidden: [],
};

afterEach(cleanup);

function setup(over: Partial<InquiryApi> = {}) {
  const api = {
    list: vi.fn(async () => ({ inquiries: [inquiry], hidden: [] })),
    get: vi.fn(async () => inquiry),
    matches: vi.fn(async () => found),
    create: vi.fn(async () => ({ id: ID, number: inquiry.number })),
    update: vi.fn(async () => inquiry),
    ...over,
  } as unknown as InquiryApi;
  const onopen = vi.fn();
  render(Inquiries, { api, loadForms: async () => [form], onopen });
  return { api, onopen };
}

describe('Inquiries', () => {
  it('lists inquiries and shows the explained matches of the chosen one', async () => {
    const { api, onopen } = setup();
    const row = await screen.findByTestId('inquiry-row');
    expect(row.textContent).toContain('Mohamed Diallo');
    expect(row.textContent).toContain('Mariam Diallo');
    expect(row.textContent).toContain('open label');
    await fireEvent.click(screen.getByText('AGZ-INQ-2026-00001'));
    const match = await screen.findByTestId('inquiry-match');
    expect(api.matches).toHaveBeenCalledWith(ID);
    expect(match.dataset.kind).toBe('registered_child');
    expect(match.textContent).toContain('same given name: mohamed / mohamed');
    expect(match.querySelector('.against')?.textContent).toContain('ages 15 / 12');
    await fireEvent.click(screen.getByText('AGZ-2026-00001'));
    expect(onopen).toHaveBeenCalledWith(CHILD);
  });

  it('shows the library refusal instead of the matches', async () => {
    setup({
      matches: vi.fn(async () => {
        throw { code: 'hidden', message: 'no', fields: [], violations: [], params: { reason: 'aggregates_only' } };
      }),
    });
    await fireEvent.click(await screen.findByText('AGZ-INQ-2026-00001'));
    const err = await screen.findByTestId('inquiry-match-error');
    expect(err.textContent).toContain('aggregate reports only');
    expect(screen.queryByTestId('inquiry-matches')).toBeNull();
  });

  it('records a new inquiry from the form with the office typed', async () => {
    const { api } = setup();
    await screen.findByTestId('inquiry-row');
    await fireEvent.click(screen.getByTestId('inquiry-new'));
    await fireEvent.input(screen.getByTestId('inquiry-office'), { target: { value: 'Agadez' } });
    const form = (await screen.findByTestId('inquiry-form')).querySelector('form');
    expect(form).not.toBeNull();
    await fireEvent.submit(form!);
    await vi.waitFor(() => expect(api.create).toHaveBeenCalled());
    expect(vi.mocked(api.create).mock.calls[0][0]).toBe('Agadez');
    await screen.findByTestId('inquiry-chosen');
  });
});
