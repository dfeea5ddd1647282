/** Listening TCP sockets of a process, read from /proc (what `ss -ltnp` shows, without needing ss). */
import fs from 'node:fs';

export interface Listener {
  address: string;
  port: number;
  /** The socket's inode: which process holds it shows in /proc/<pid>/fd. */
  inode: string;
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
      out.set(inode, { address: decodeAddress(addrHex!), port: parseInt(portHex!, 16), inode });
    }
  }
  return out;
}

/** Inodes of the sockets `pid` holds (empty if the process is gone). */
export function socketInodesOf(pid: number): Set<string> {
  const out = new Set<string>();
  let fds: string[] = [];
  try {
    fds = fs.readdirSync(`/proc/${pid}/fd`);
  } catch {
    return out;
  }
  for (const fd of fds) {
    let target = '';
    try {
      target = fs.readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {
      continue;
    }
    const m = /^socket:\[(\d+)\]$/.exec(target);
    if (m) out.add(m[1]!);
  }
  return out;
}

/** The TCP sockets `pid` listens on. */
export function listenersOf(pid: number): Listener[] {
  const all = listeningByInode();
  return [...socketInodesOf(pid)].flatMap((inode) => all.get(inode) ?? []);
}

/** Who listens on `port` (any address): 'none', 'only' `pid`, or 'other' (someone else, maybe besides `pid`). */
export function portListener(port: number, pid: number): 'none' | 'only' | 'other' {
  const on = [...listeningByInode().values()].filter((l) => l.port === port);
  if (on.length === 0) return 'none';
  const mine = socketInodesOf(pid);
  return on.every((l) => mine.has(l.inode)) ? 'only' : 'other';
}

/** Every listening TCP socket on the machine. */
export function allListeners(): Listener[] {
  return [...listeningByInode().values()];
}
