// The Electron end of main/secrets/store.ts: safeStorage (the OS keychain) behind the store's
// SafeStorageLike interface. Only the main process uses it; call after app 'ready' (on Linux,
// safeStorage names its backend only then). Not executed here: Electron cannot run on our CI
// machines; the store's logic is tested in test/unit/secrets.test.ts.
import path from 'node:path';
import { safeStorage } from 'electron';
import { SecretStore } from '../secrets/store';

export function openDesktopSecrets(userDataDir: string, warn: (message: string) => void): Promise<SecretStore> {
  return SecretStore.open({
    file: path.join(userDataDir, 'secrets.json'),
    safe: {
      isAsyncEncryptionAvailable: () => safeStorage.isAsyncEncryptionAvailable(),
      encryptStringAsync: (text) => safeStorage.encryptStringAsync(text),
      decryptStringAsync: (data) => safeStorage.decryptStringAsync(data),
      getSelectedStorageBackend: process.platform === 'linux' ? () => safeStorage.getSelectedStorageBackend() : undefined,
    },
    warn,
  });
}
