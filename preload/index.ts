// The one bridge between the sandboxed page and the core: call a contract method, listen to events.
// Results come back as the same envelope the HTTP transport uses ({result} or {error}).
import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron';
import type { EventName } from '../shared/api';

export interface OffhostBridge {
  call(method: string, input: unknown): Promise<{ result?: unknown; error?: unknown }>;
  subscribe(event: EventName, listener: (payload: unknown) => void): () => void;
}

const bridge: OffhostBridge = {
  call: (method, input) => ipcRenderer.invoke('offhost:call', method, input),
  subscribe(event, listener) {
    const handler = (_e: IpcRendererEvent, name: string, payload: unknown) => {
      if (name === event) listener(payload);
    };
    ipcRenderer.on('offhost:event', handler);
    return () => void ipcRenderer.off('offhost:event', handler);
  },
};

contextBridge.exposeInMainWorld('offhost', bridge);
