// Who may call the core over IPC: only the main frame of our window, showing our own page.
// Pure (no 'electron' import): main.ts passes Electron's WebFrameMain objects, which fit FrameRef.
import { isAppUrl } from './app-url';

export { isAppUrl } from './app-url';

/** The parts of Electron's WebFrameMain the check needs. */
export interface FrameRef {
  readonly url: string;
  readonly processId: number;
  readonly routingId: number;
  readonly detached?: boolean;
}

/**
 * `sender` is the IPC event's senderFrame (null once the frame navigated away or died);
 * `mainFrame` is our window's webContents.mainFrame. A frame is identified by its renderer
 * process and routing id, so an iframe inside our page (same URL, other routing id) is refused,
 * as is any frame of another webContents.
 */
export function isTrustedSender(sender: FrameRef | null | undefined, mainFrame: FrameRef | null | undefined): boolean {
  try {
    if (!sender || !mainFrame || sender.detached) return false;
    if (!Number.isInteger(sender.processId) || !Number.isInteger(sender.routingId)) return false;
    if (sender.processId !== mainFrame.processId || sender.routingId !== mainFrame.routingId) return false;
    return isAppUrl(sender.url);
  } catch {
    // Electron's WebFrameMain getters throw once the render frame is disposed: not our page.
    return false;
  }
}

/** The sender's URL for a log line: shortened, and safe on a disposed frame. */
export function describeSender(sender: FrameRef | null | undefined): string {
  if (!sender) return '(no frame)';
  try {
    return String(sender.url).slice(0, 200);
  } catch {
    return '(disposed frame)';
  }
}
