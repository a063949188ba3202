import { afterEach, describe, expect, it, vi } from 'vitest';
import { cleanup, fireEvent, render, screen, within } from '@testing-library/svelte';
import FormRenderer from './FormRenderer.svelte';
import type { FormDefDto } from '../lib/bindings/FormDefDto';
import type { FieldDefDto } from '../lib/bindings/FieldDefDto';
import { clearAllDrafts, draftCount } from '../lib/drafts';

const L = (en: string) => ({ en, fr: `${en} (fr)`, ar: `${en} (ar)` });

function field(name: string, type: string, extra: Partial<FieldDefDto> = {}): FieldDefDto {
  return {
    name,
    type,
    required: false,
    required_if: null,
    shown_if: null,
    sensitivity: 'normal',
    labels: L(name.replace(/_/g, ' ')),
    help: null,
    options: [],
    min: null,
    max: null,
    min_items: null,
    fields: [],
    ...extra,
  };
}

const opts = (...vs: string[]) => vs.map((v) => ({ value: v, labels: L(v.toUpperCase()) }));

// One field of every type the library knows, and a conditional field.
const form: FormDefDto = {
  id: 'test_form',
  code: 'FT',
  title: L('Test form'),
  applies_to: ['uasc'],
  stages: ['identified'],
  sections: [],
  repeating: false,
  fields: [
    field('given_names', 'text', { required: true }),
    field('story', 'longtext'),
    field('date_of_birth', 'date'),
    field('seen_at', 'datetime'),
    field('sex', 'enum', { options: opts('female', 'male') }),
    field('concerns', 'multi_enum', { options: opts('trafficking', 'violence', 'other') }),
    field('other_concern', 'text', {
      shown_if: { field: 'concerns', test: 'equals', operand: 'other' },
      required_if: { field: 'concerns', test: 'equals', operand: 'other' },
    }),
    field('has_guardian', 'bool'),
    field('age_years', 'number', { min: 0, max: 25 }),
    field('interpreter', 'person_ref'),
    field('assent', 'consent', { sensitivity: 'protected' }),
    field('photo', 'attachment'),
    field('aliases', 'list_text'),
    field('family_members', 'group_list', {
      fields: [field('name', 'text', { required: true }), field('relationship', 'enum', { options: opts('mother', 'uncle') })],
    }),
  ],
};

afterEach(() => {
  cleanup();
  clearAllDrafts();
});

function renderForm(props: Partial<{ stored: Record<string, unknown>; onsave: ReturnType<typeof vi.fn>; oncheck: ReturnType<typeof vi.fn>; draftKey: string }> = {}) {
  return render(FormRenderer, {
    form,
    stored: props.stored ?? {},
    draftKey: props.draftKey ?? 'case-1/test_form',
    onsave: props.onsave ?? vi.fn().mockResolvedValue([]),
    oncheck: props.oncheck,
  });
}

describe('FormRenderer', () => {
  it('renders a labelled control for every field type', () => {
    const { container } = renderForm();
    expect(screen.getByLabelText(/given names/)).toHaveProperty('type', 'text');
    expect(screen.getByLabelText('story').tagName).toBe('TEXTAREA');
    expect(screen.getByLabelText('date of birth')).toHaveProperty('type', 'date');
    expect(screen.getByLabelText('seen at')).toHaveProperty('type', 'datetime-local');
    const sex = screen.getByLabelText('sex') as HTMLSelectElement;
    expect([...sex.options].map((o) => o.textContent)).toEqual(['—', 'FEMALE', 'MALE']);
    const concerns = screen.getByRole('group', { name: 'concerns' });
    expect(within(concerns).getAllByRole('checkbox')).toHaveLength(3);
    expect(screen.getByLabelText('has guardian').tagName).toBe('SELECT');
    const age = screen.getByLabelText('age years') as HTMLInputElement;
    expect([age.type, age.min, age.max]).toEqual(['number', '0', '25']);
    expect(within(screen.getByRole('group', { name: 'interpreter' })).getAllByRole('textbox')).toHaveLength(3);
    expect(screen.getByRole('group', { name: /assent/ }).textContent).toContain('protected');
    expect(container.querySelector('[data-type="attachment"]')).not.toBeNull();
    expect(screen.getByLabelText('aliases').tagName).toBe('TEXTAREA');
    expect(screen.getByRole('group', { name: 'family members' })).toBeTruthy();
    // Required fields are marked for screen readers too.
    expect(screen.getByText(/given names/).textContent).toContain('required');
  });

  it('shows a conditional field only when its condition holds, and drops it from the save when hidden', async () => {
    const onsave = vi.fn().mockResolvedValue([]);
    renderForm({ onsave });
    expect(screen.queryByLabelText(/other concern/)).toBeNull();
    const concerns = screen.getByRole('group', { name: 'concerns' });
    await fireEvent.click(within(concerns).getByLabelText('OTHER'));
    const other = screen.getByLabelText(/other concern/);
    expect(other.parentElement?.textContent).toContain('*'); // required_if now holds
    await fireEvent.input(other, { target: { value: 'begging' } });
    await fireEvent.click(within(concerns).getByLabelText('OTHER'));
    expect(screen.queryByLabelText(/other concern/)).toBeNull();
    await fireEvent.click(within(concerns).getByLabelText('VIOLENCE'));
    await fireEvent.click(screen.getByRole('button', { name: 'Save' }));
    await vi.waitFor(() => expect(onsave).toHaveBeenCalledTimes(1));
    expect(onsave.mock.calls[0][0]).toEqual({ concerns: ['violence'] });
  });

  it('saves typed JSON values: numbers, booleans, lists, person references, group rows', async () => {
    const onsave = vi.fn().mockResolvedValue([]);
    renderForm({ onsave });
    await fireEvent.input(screen.getByLabelText(/given names/), { target: { value: 'Amadou' } });
    await fireEvent.input(screen.getByLabelText('age years'), { target: { value: '16' } });
    await fireEvent.change(screen.getByLabelText('has guardian'), { target: { value: 'false' } });
    await fireEvent.change(screen.getByLabelText('sex'), { target: { value: 'male' } });
    await fireEvent.input(screen.getByLabelText('aliases'), { target: { value: 'Amado\n\n Hamadou ' } });
    const interp = screen.getByRole('group', { name: 'interpreter' });
    await fireEvent.input(within(interp).getByLabelText('Name'), { target: { value: 'Fatou' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Add an entry' }));
    const fam = screen.getByRole('group', { name: 'family members' });
    await fireEvent.input(within(fam).getByLabelText(/name/), { target: { value: 'Mariama' } });
    await fireEvent.change(within(fam).getByLabelText('relationship'), { target: { value: 'mother' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Save' }));
    await vi.waitFor(() => expect(onsave).toHaveBeenCalled());
    expect(onsave.mock.calls[0][0]).toEqual({
      given_names: 'Amadou',
      age_years: 16,
      has_guardian: false,
      sex: 'male',
      aliases: ['Amado', 'Hamadou'],
      interpreter: { name: 'Fatou' },
      family_members: [{ name: 'Mariama', relationship: 'mother' }],
    });
  });

  it('saves only changed fields of stored values', async () => {
    const onsave = vi.fn().mockResolvedValue([]);
    renderForm({ onsave, stored: { given_names: 'Amadou', sex: 'male' } });
    expect((screen.getByLabelText(/given names/) as HTMLInputElement).value).toBe('Amadou');
    await fireEvent.change(screen.getByLabelText('sex'), { target: { value: 'female' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Save' }));
    await vi.waitFor(() => expect(onsave).toHaveBeenCalled());
    expect(onsave.mock.calls[0][0]).toEqual({ sex: 'female' });
  });

  it('shows the library validation messages next to their fields, also inside group rows', async () => {
    const onsave = vi.fn().mockResolvedValue([
      { field: 'age_years', code: 'out_of_range', message: 'Age in years must be at most 25' },
      { field: 'family_members[0].name', code: 'required', message: 'Name is required' },
    ]);
    renderForm({ onsave, stored: { family_members: [{ relationship: 'uncle' }] } });
    await fireEvent.input(screen.getByLabelText('age years'), { target: { value: '40' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Save' }));
    const ageErr = await screen.findByTestId('error-age_years');
    expect(ageErr.textContent).toContain('at most 25');
    expect(screen.getByLabelText('age years').getAttribute('aria-invalid')).toBe('true');
    expect(screen.getByLabelText('age years').getAttribute('aria-describedby')).toContain(ageErr.id);
    expect(screen.getByTestId('error-family_members[0].name').textContent).toBe('Name is required');
    expect(screen.getByTestId('status-test_form').textContent).toContain('2 problems');
  });

  it('shows what a complete form still needs when checked', async () => {
    const oncheck = vi.fn().mockResolvedValue([{ field: 'given_names', code: 'required', message: 'Given names is required' }]);
    renderForm({ oncheck });
    await fireEvent.click(screen.getByRole('button', { name: 'Check what is missing' }));
    expect((await screen.findByTestId('error-given_names')).textContent).toBe('Given names is required');
    expect(oncheck).toHaveBeenCalledWith({});
  });

  it('keeps unsaved input in memory when the form is closed and opened again, until saved', async () => {
    const first = renderForm();
    await fireEvent.input(screen.getByLabelText(/given names/), { target: { value: 'Aminata' } });
    first.unmount();
    expect(draftCount()).toBe(1);
    const onsave = vi.fn().mockResolvedValue([]);
    renderForm({ onsave });
    expect((screen.getByLabelText(/given names/) as HTMLInputElement).value).toBe('Aminata');
    expect(screen.getByTestId('status-test_form').textContent).toBe('Unsaved changes');
    // Another case's form has its own draft.
    cleanup();
    renderForm({ draftKey: 'case-2/test_form' });
    expect((screen.getByLabelText(/given names/) as HTMLInputElement).value).toBe('');
    cleanup();
    renderForm({ onsave });
    await fireEvent.click(screen.getByRole('button', { name: 'Save' }));
    await vi.waitFor(() => expect(onsave).toHaveBeenCalledWith({ given_names: 'Aminata' }));
    await vi.waitFor(() => expect(draftCount()).toBe(0));
  });

  it('keeps the draft when the save is refused', async () => {
    renderForm({ onsave: vi.fn().mockResolvedValue([{ field: '', code: 'R4', message: 'R4: no legitimate basis' }]) });
    await fireEvent.input(screen.getByLabelText(/given names/), { target: { value: 'Aminata' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Save' }));
    expect((await screen.findByRole('alert')).textContent).toContain('R4: no legitimate basis');
    expect(draftCount()).toBe(1);
    expect(localStorage.length).toBe(0);
  });
});
