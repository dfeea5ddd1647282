/** Listening TCP sockets of a process, read from /proc (what `ss -ltnp` shows, without needing ss). */
import fs from 'node:fs';

export interface Listener {
  address: string;
  port: number;
}

function decodeAddress(hex: string): string {
  if (hex.length === 8) {
    // IPv4, little-endian
    return [3, 2, 1, 0].map((i) => parseInt(hex.slice(i * 2, i * 2 + 2), 16)).join('.');
  }
  // IPv6: four little-endian 32-bit words
  const words = [0, 1, 2, 3].map((w) => hex.slice(w * 8, w * 8 + 8));
  const bytes = words.flatMap((w) => [3, 2, 1, 0].map((i) => w.slice(i * 2, i * 2 + 2)));
  const groups = [];
  for (let i = 0; i < 16; i += 2) groups.push(`${bytes[i]}${bytes[i + 1]}`.toLowerCase());
  const full = groups.join(':');
  if (full === '0000:0000:0000:0000:0000:0000:0000:0000') return '::';
  if (full === '0000:0000:0000:0000:0000:0000:0000:0001') return '::1';
  return full;
}

/** inode → listener, for every socket in LISTEN state. */
function listeningByInode(): Map<string, Listener> {
  const out = new Map<string, Listener>();
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.trim().split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      const [local, , state] = [cols[1], cols[2], cols[3]];
      const inode = cols[9];
      if (state !== '0A' || !local || !inode) continue;
      const [addrHex, portHex] = local.split(':');
      out.set(inode, { address: decodeAddress(addrHex!), port: parseInt(portHex!, 16) });
    }
  }
  return out;
}

/** The TCP sockets `pid` listens on. */
export function listenersOf(pid: number): Listener[] {
  const all = listeningByInode();
  const result: Listener[] = [];
  for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
    let target = '';
    try {
      target = fs.readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {
      continue;
    }
    const m = /^socket:\[(\d+)\]$/.exec(target);
    const l = m && all.get(m[1]!);
    if (l) result.push(l);
  }
  return result;
}

/** Every listening TCP socket on the machine. */
export function allListeners(): Listener[] {
  return [...listeningByInode().values()];
}
