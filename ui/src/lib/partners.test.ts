import { describe, expect, it } from 'vitest';
import { answerPayload, isOpenReceived, isOpenSent, maySend, partnerFileName, sharedText } from './partners';
import type { PartnerEntry, RequestPreviewDto } from './api-partners';

const preview: RequestPreviewDto = { kind: 'family_assessment', due: '2026-03-01', shared: [], blocked_by: [] };
const nyala: PartnerEntry = { partner_id: 'p1', name: 'Nyala office', country: 'SDN', on_paper: false };
const abeche: PartnerEntry = { partner_id: 'p2', name: 'Abeche', country: 'TCD', on_paper: true };

describe('partner requests on screen', () => {
  it('keeps sent, received and overdue requests open, not answered or withdrawn ones', () => {
    expect(['sent', 'received', 'overdue'].every(isOpenSent)).toBe(true);
    expect(isOpenSent('answered') || isOpenSent('withdrawn')).toBe(false);
    expect(isOpenReceived('received') && isOpenReceived('overdue')).toBe(true);
    expect(isOpenReceived('sent') || isOpenReceived('answered')).toBe(false);
  });

  it('reads shared values as text', () => {
    expect(sharedText({ name: 'Amina Idris' }, 'yes', 'no')).toBe('Amina Idris');
    expect(sharedText(['NGA', 'NER'], 'yes', 'no')).toBe('NGA, NER');
    expect(sharedText(false, 'yes', 'no')).toBe('no');
    expect(sharedText({ village: 'Nyala', district: 'South' }, 'y', 'n')).toBe('Nyala, South');
    expect(sharedText(null, 'y', 'n')).toBe('—');
    // A value-list code comes with its labels: the reader's language, never the code.
    const female = { $label: { en: 'Female', fr: 'Féminin', ar: 'أنثى' } };
    expect(sharedText(female, 'y', 'n', 'fr')).toBe('Féminin');
    expect(sharedText([female, { $label: { en: 'Male', fr: 'Masculin', ar: 'ذكر' } }], 'y', 'n', 'ar')).toBe('أنثى, ذكر');
  });

  it('sends only the filled answer fields of the kind', () => {
    expect(answerPayload(['willingness', 'capacity'], { willingness: 'yes', capacity: '', other: 'x' })).toEqual({
      willingness: 'yes',
    });
  });

  it('allows sending only after a preview no rule refuses, to a partner, with a file when it runs Fieldcase', () => {
    expect(maySend(null, nyala, '/media/usb/r.fcb')).toBe(false);
    expect(maySend(preview, undefined, '/media/usb/r.fcb')).toBe(false);
    expect(maySend(preview, nyala, ' ')).toBe(false);
    expect(maySend(preview, nyala, '/media/usb/r.fcb')).toBe(true);
    expect(maySend(preview, abeche, '')).toBe(true);
    const refused = { ...preview, blocked_by: [{ rule: 'R4', code: 'partner_request_no_consent', params: { kind: 'family_assessment' }, message: 'no consent' }] };
    expect(maySend(refused, abeche, '')).toBe(false);
  });

  it('names partner files by what they are', () => {
    expect(partnerFileName('request', 'family_assessment')).toBe('request-family-assessment.fcb');
    expect(partnerFileName('answer', 'family_tracing', '0190aaaa-bbbb')).toBe('answer-family-tracing-0190aaaa.fcb');
  });
});

describe('partner requests in the calendar', () => {
  it('replaces the case tasks of requests by every open request on either side, overdue ones in the overdue group', async () => {
    const { groupTasks, withPartnerRequests } = await import('./calendar');
    const visit = { case_id: 'c1', case_number: 'AGZ-1', child_name: 'Fatima', caseworker: 'amina', kind: 'follow_up_due',
      due: '2026-03-03', overdue_days: 0, title: 'visit' };
    const libraryTask = { ...visit, kind: 'partner_request_due', due: '2026-03-05', title: 'Answer to the request' };
    const merged = withPartnerRequests([visit, libraryTask], [
      { request_id: 'r1', side: 'sent', case_id: 'c1', case_number: 'AGZ-1', child_name: 'Fatima', caseworker: 'amina',
        kind: 'family_tracing', partner: 'Nyala office', status: 'overdue', due: '2026-02-20', overdue_days: 11 },
      { request_id: 'r2', side: 'sent', case_id: 'c1', case_number: 'AGZ-1', child_name: 'Fatima', caseworker: 'amina',
        kind: 'family_assessment', partner: 'Nyala office', status: 'received', due: '2026-04-20', overdue_days: 0 },
      { request_id: 'r3', side: 'received', case_id: null, case_number: null, child_name: null, caseworker: null,
        kind: 'family_tracing', partner: 'Agadez office', status: 'received', due: '2026-03-04', overdue_days: 0 },
    ]);
    expect(merged.map((t) => t.kind)).toEqual(['follow_up_due', 'partner_request_overdue', 'partner_request_due', 'partner_answer_due']);
    const g = groupTasks(merged, '2026-03-03', false);
    expect(g.overdue.map((t) => t.title)).toEqual(['Nyala office']);
    expect(g.thisWeek.map((t) => t.kind)).toEqual(['follow_up_due', 'partner_answer_due']);
    expect(g.thisWeek[1].case_id).toBe('');
    expect(g.later.map((t) => t.due)).toEqual(['2026-04-20']);
    // Visits only: no request.
    expect(groupTasks(merged, '2026-03-03', true).overdue).toEqual([]);
  });
});
