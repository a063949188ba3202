// Calls into the Rust tracing-inquiry commands (src-tauri/src/inquiry_commands.rs).
import { call } from './bindings/commands';
import type { InquiryDto } from './bindings/InquiryDto';
import type { InquiryListDto } from './bindings/InquiryListDto';
import type { InquiryMatchesDto } from './bindings/InquiryMatchesDto';
import type { NewInquiryDto } from './bindings/NewInquiryDto';

export type { InquiryDto } from './bindings/InquiryDto';
export type { InquiryListDto } from './bindings/InquiryListDto';
export type { InquiryMatchDto } from './bindings/InquiryMatchDto';
export type { InquiryMatchesDto } from './bindings/InquiryMatchesDto';
export type { HiddenCountDto } from './bindings/HiddenCountDto';
export type { NewInquiryDto } from './bindings/NewInquiryDto';

/** The id of the inquiry's form (assets/forms/inquiry.json). */
export const INQUIRY_FORM = 'inquiry';

export const inquiryApi = {
  /** The inquiries the reader may see, with a count of those left out. */
  list: () => call('inquiry_list'),
  /** Record a new inquiry with the values of form `inquiry`. */
  create: (office: string, values: Record<string, unknown>) => call('inquiry_create', { office, values }),
  /** Change values of an inquiry (id or number). */
  update: (inquiry: string, values: Record<string, unknown>) => call('inquiry_update', { inquiry, values }),
  /** One inquiry (id or number). */
  get: (inquiry: string) => call('inquiry_get', { inquiry }),
  /** Its explained matches against registered children and other inquiries. */
  matches: (inquiry: string) => call('inquiry_matches', { inquiry }),
};

export type InquiryApi = typeof inquiryApi;

/** Who an inquiry seeks, as one name. */
export function soughtName(i: InquiryDto): string {
  return [i.values.sought_given_names, i.values.sought_family_name].filter((x) => typeof x === 'string' && x.trim()).join(' ');
}
