// Grouping tasks for the follow-up calendar: overdue, due in its grace
// period, due from today to Sunday, later, and per caseworker. A visit
// whose date has passed is not overdue until its grace period ends (the
// library's schedule): it is shown apart, so no column holds dates it does
// not name.
import type { PartnerDue } from './bindings/PartnerDue';
import type { TaskDto } from './bindings/TaskDto';

/** Monday-to-Sunday week containing `today` (YYYY-MM-DD), as [start, end]. */
export function weekOf(today: string): [string, string] {
  const d = new Date(`${today}T00:00:00Z`);
  const dow = (d.getUTCDay() + 6) % 7; // Monday = 0
  const start = new Date(d.getTime() - dow * 86_400_000);
  const end = new Date(start.getTime() + 6 * 86_400_000);
  return [start.toISOString().slice(0, 10), end.toISOString().slice(0, 10)];
}

export interface CalendarGroups {
  overdue: TaskDto[];
  /** Due before today, not yet overdue (in the grace period). */
  inGrace: TaskDto[];
  /** Due from today to the end of this week. */
  thisWeek: TaskDto[];
  later: TaskDto[];
  byCaseworker: { caseworker: string; overdue: number; thisWeek: number; tasks: TaskDto[] }[];
}

/** Split `tasks` around `today`; `onlyVisits` keeps follow-up visits only. */
export function groupTasks(tasks: TaskDto[], today: string, onlyVisits: boolean): CalendarGroups {
  const [, end] = weekOf(today);
  const list = tasks.filter((t) => !onlyVisits || t.kind.startsWith('follow_up')).slice().sort((a, b) => a.due.localeCompare(b.due));
  const overdue = list.filter((t) => t.overdue_days > 0);
  const inGrace = list.filter((t) => t.overdue_days <= 0 && t.due < today);
  const thisWeek = list.filter((t) => t.overdue_days <= 0 && t.due >= today && t.due <= end);
  const later = list.filter((t) => t.overdue_days <= 0 && t.due > end);
  const by = new Map<string, TaskDto[]>();
  for (const t of list) {
    const k = t.caseworker ?? '';
    by.set(k, [...(by.get(k) ?? []), t]);
  }
  const byCaseworker = [...by.entries()]
    .map(([caseworker, ts]) => ({
      caseworker,
      overdue: ts.filter((t) => t.overdue_days > 0).length,
      thisWeek: ts.filter((t) => t.overdue_days <= 0 && t.due <= end).length,
      tasks: ts,
    }))
    .sort((a, b) => b.overdue - a.overdue || a.caseworker.localeCompare(b.caseworker));
  return { overdue, inGrace, thisWeek, later, byCaseworker };
}

/**
 * Requests to and from partners abroad as calendar tasks, by their due
 * date: every open one, where the case's tasks list a sent request only
 * from a week before it is due. They replace the case tasks of the same
 * requests. A received request has no case here: `case_id` is empty and
 * `title` names the partner.
 */
export function withPartnerRequests(tasks: TaskDto[], due: PartnerDue[]): TaskDto[] {
  const asTasks: TaskDto[] = due.map((d) => {
    const late = d.status === 'overdue';
    const kind = d.side === 'sent'
      ? (late ? 'partner_request_overdue' : 'partner_request_due')
      : (late ? 'partner_answer_overdue' : 'partner_answer_due');
    return {
      case_id: d.case_id ?? '',
      case_number: d.case_number ?? '',
      child_name: d.child_name ?? '',
      caseworker: d.caseworker,
      kind,
      due: d.due,
      overdue_days: late ? Math.max(1, d.overdue_days) : 0,
      title: d.partner,
    };
  });
  return [...tasks.filter((t) => !t.kind.startsWith('partner_request')), ...asTasks];
}
