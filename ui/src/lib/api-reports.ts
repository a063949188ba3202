// Calls into the Rust report commands (src-tauri/src/report_commands.rs).
import { call } from './bindings/commands';
import type { FormDefDto } from './bindings/FormDefDto';
import type { ReportView } from './bindings/ReportView';

export type { ReportView } from './bindings/ReportView';
export type { ReportIndicator } from './bindings/ReportIndicator';
export type { ReportCell } from './bindings/ReportCell';

export const reportsApi = {
  /** Every indicator for the period; `suppress` false only for internal use. */
  compute: (from: string, to: string, office: string | null, suppress: boolean) =>
    call('report_compute', { from, to, office, suppress }),
  /** One CSV per indicator into `dir`, small cells always withheld. */
  exportCsv: (from: string, to: string, office: string | null, dir: string) =>
    call('report_export_csv', { from, to, office, dir }),
  /** The form definitions, for the labels of the breakdowns' categories. */
  formDefinitions: (): Promise<FormDefDto[]> => call('form_definitions'),
};
