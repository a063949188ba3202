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
    const refused = { ...preview, blocked_by: [{ rule: 'R4', message: 'no consent' }] };
    expect(maySend(refused, abeche, '')).toBe(false);
  });

  it('names partner files by what they are', () => {
    expect(partnerFileName('request', 'family_assessment')).toBe('request-family-assessment.fcb');
    expect(partnerFileName('answer', 'family_tracing', '0190aaaa-bbbb')).toBe('answer-family-tracing-0190aaaa.fcb');
  });
});
