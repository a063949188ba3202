// The system's open and save dialogs, opened by the Rust side
// (src-tauri/src/dialog_commands.rs): the window asks for a kind of file and
// gets back the path the person chose, or null when they cancelled. The
// commands that read or write files accept only paths chosen this way or in
// a drive shortcut.
import { call } from './bindings/commands';

/** `bundle`/`request`: a file to open; `save`: where to save; `folder`: a folder. */
export type DialogKind = 'bundle' | 'request' | 'save' | 'folder';

export const dialogApi = {
  choose: (kind: DialogKind, fileName?: string, start?: string) =>
    call('choose_path', { kind, fileName: fileName ?? null, start: start ?? null }),
  /** Choose a photo or PDF and attach it to the case; its name, or null when cancelled. */
  attachFile: (caseId: string) => call('add_attachment_file', { case: caseId }),
};

/** The folder part of a path ('' when there is none). */
export function folderOf(path: string): string {
  const i = path.lastIndexOf('/');
  return i > 0 ? path.slice(0, i) : '';
}
