// The UI's form-condition evaluator against the vectors the library's is
// checked with (tests/vectors/forms/conditions.json,
// tests/forms_condition_vectors.rs): one truth for shown_if / required_if.
import { describe, expect, it } from 'vitest';
import vectors from '../../../tests/vectors/forms/conditions.json';
import type { ConditionDto } from './bindings/ConditionDto';
import { evalCondition, isRequired, isShown, type Values } from './forms';
import type { FieldDefDto } from './bindings/FieldDefDto';

type Vector = { name: string; condition: Record<string, unknown>; values: Values; case?: Values; expected: boolean | null };

/** A condition as assets/forms writes it (`{field, <test>: operand}`) as the
 * shell sends it (ConditionDto, src-tauri/src/dto.rs): the emptiness tests
 * carry no operand. */
function toDto(c: Record<string, unknown>): ConditionDto {
  const [test, ...more] = Object.keys(c).filter((k) => k !== 'field');
  expect(more).toEqual([]);
  const empties = test === 'empty' || test === 'not_empty';
  return { field: String(c.field), test: test as ConditionDto['test'], operand: empties ? null : c[test] };
}

const all = (vectors as { vectors: Vector[] }).vectors;

describe('form conditions: the shared vectors', () => {
  it('has vectors', () => expect(all.length).toBeGreaterThan(40));

  it.each(all.map((v) => [v.name, v] as const))('%s', (_, v) => {
    expect(evalCondition(toDto(v.condition), v.values, v.case)).toBe(v.expected);
  });
});

describe('a condition that cannot be evaluated', () => {
  const field = (cond: Partial<FieldDefDto>): FieldDefDto => ({
    name: 'x', type: 'text', required: false, required_if: null, shown_if: null, sensitivity: 'normal',
    labels: { en: 'x', fr: 'x', ar: 'x' }, help: null, options: [], min: null, max: null, min_items: null, fields: [],
    ...cond,
  });
  const cross: ConditionDto = { field: 'registration.sex', test: 'equals', operand: 'female' };

  it('shows the field and does not require it, like the library', () => {
    expect(isShown(field({ shown_if: cross }), {})).toBe(true);
    expect(isRequired(field({ required_if: cross }), {})).toBe(false);
    expect(isRequired(field({ required_if: cross }), {}, { 'registration.sex': 'female' })).toBe(true);
  });

  it('an unknown test does not hold', () => {
    const bad = { field: 'x', test: 'matches', operand: 'a' } as unknown as ConditionDto;
    const error = console.error;
    console.error = () => {};
    try {
      expect(evalCondition(bad, { x: 'a' })).toBe(false);
    } finally {
      console.error = error;
    }
  });
});
