// Where the Office panels suggest writing a file: the first removable drive,
// else the first suggested folder.
import type { SyncPlace } from '../../lib/api-sync';

export function suggestedFolder(places: SyncPlace[]): string {
  return (places.find((p) => p.kind === 'usb') ?? places[0])?.path ?? '';
}
