import { afterEach, describe, expect, it, vi } from 'vitest';
import { cleanup, fireEvent, render, screen } from '@testing-library/svelte';
import SyncFolder from './SyncFolder.svelte';
import type { FolderView, SyncApi } from '../../lib/api-sync';
import { setLocale } from '../../lib/i18n/index.svelte';

afterEach(cleanup);

const none: FolderView = {
  folder: null, last_sync: null, last_checked: null, error: null, imported: [], written: 0, refused: [], incomplete: [],
};

const synced: FolderView = {
  folder: '/srv/sync/fieldcase',
  last_sync: '2026-12-06T10:00:00Z',
  last_checked: '2026-12-06T10:00:02Z',
  error: null,
  imported: [{
    file: '0190aaaa-0000-7000-8000-000000000003/to-office/00000000000000000004.fcb', sender_name: 'amina',
    new_events: 3, new_cases: 1, updated_cases: 0, quarantined: 1,
  }],
  written: 1,
  refused: [{
    file: 'x/to-office/99.fcb', reason: 'this bundle was made for another vault/office', code: 'bundle_wrong_recipient', params: {},
  }],
  incomplete: [{ file: 'x/to-office/05.fcb', reason: 'the bundle is damaged or truncated', code: 'bundle_damaged', params: { size: '5' } }],
};

function api(over: Partial<SyncApi>): SyncApi {
  return { folderStatus: async () => none, ...over } as unknown as SyncApi;
}

describe('Sync folder card', () => {
  it('keeps the chosen folder through the library and shows what came in and what was refused', async () => {
    const folderSet = vi.fn(async (_p: string | null) => synced);
    const choose = vi.fn(async () => '/srv/sync/fieldcase');
    render(SyncFolder, { api: api({ folderSet }), choose });
    expect((await screen.findByTestId('folder-none')).textContent).toContain('No folder chosen');
    // The system's folder dialog (opened by the Rust side) answers.
    await fireEvent.click(screen.getByTestId('folder-path-choose'));
    expect(choose).toHaveBeenCalledWith('folder', undefined, undefined);
    await vi.waitFor(() => expect(screen.getByTestId('folder-path').textContent).toBe('/srv/sync/fieldcase'));
    await fireEvent.click(screen.getByTestId('folder-save'));
    await vi.waitFor(() => expect(screen.getByTestId('folder-state').textContent).toContain('/srv/sync/fieldcase'));
    expect(folderSet).toHaveBeenCalledWith('/srv/sync/fieldcase');
    const came = screen.getByTestId('folder-imported').textContent ?? '';
    expect(came).toContain('amina');
    expect(came).toContain('1 new cases');
    expect(came).toContain('1 change(s) held in quarantine');
    const refused = screen.getByTestId('folder-refused').textContent ?? '';
    expect(refused).toContain('99.fcb');
    expect(refused).toContain('made for another vault or office');
    expect(screen.getByTestId('folder-incomplete').textContent).toContain('05.fcb');
  });

  it('polls the state the watcher leaves, and shows a failure of the folder', async () => {
    let calls = 0;
    const folderStatus = vi.fn(async () =>
      calls++ === 0 ? synced : {
        ...synced,
        error: {
          code: 'folder_missing', message: 'the sync folder /srv/sync/fieldcase does not exist', fields: [], violations: [],
          params: { path: '/srv/sync/fieldcase' },
        },
      });
    render(SyncFolder, { api: api({ folderStatus }), pollMs: 20 });
    await vi.waitFor(() =>
      expect(screen.getByTestId('folder-watch-error').textContent).toContain('does not exist'));
    expect(folderStatus.mock.calls.length).toBeGreaterThan(1);
  });

  it('says why a file was refused in the reader’s language', async () => {
    setLocale('fr');
    render(SyncFolder, { api: api({ folderStatus: async () => synced }) });
    await vi.waitFor(() =>
      expect(screen.getByTestId('folder-refused').textContent).toContain('fait pour un autre coffre ou bureau'));
    setLocale('en');
  });

  it('syncs now and stops on request', async () => {
    const folderNow = vi.fn(async () => synced);
    const folderSet = vi.fn(async (_p: string | null) => none);
    render(SyncFolder, { api: api({ folderStatus: async () => synced, folderNow, folderSet }) });
    await fireEvent.click(await screen.findByTestId('folder-now'));
    expect(folderNow).toHaveBeenCalled();
    await fireEvent.click(screen.getByTestId('folder-clear'));
    await vi.waitFor(() => expect(screen.getByTestId('folder-none')).toBeTruthy());
    expect(folderSet).toHaveBeenCalledWith(null);
  });
});
