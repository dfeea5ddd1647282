// This process's own CPU and memory (the summary strip's "Offhost itself"): CPU as the rate
// between two readings of process.cpuUsage() at least a second apart, memory as RSS and heap.
import type { AppProcessUsage } from '../../shared/processes';

export class AppUsage {
  private last: { at: bigint; cpu: NodeJS.CpuUsage } = { at: process.hrtime.bigint(), cpu: process.cpuUsage() };
  private rate = 0;

  read(): AppProcessUsage {
    const at = process.hrtime.bigint();
    const elapsedUs = Number(at - this.last.at) / 1000;
    if (elapsedUs >= 1_000_000) {
      const used = process.cpuUsage(this.last.cpu);
      this.rate = cpuMillicores(used.user + used.system, elapsedUs);
      this.last = { at, cpu: process.cpuUsage() };
    }
    const mem = process.memoryUsage();
    return { pid: process.pid, cpu_millicores: this.rate, rss_bytes: mem.rss, heap_used_bytes: mem.heapUsed, uptime_seconds: Math.round(process.uptime()) };
  }
}

/** CPU time over wall time, both in microseconds, as millicores (1000 = one core busy). */
export function cpuMillicores(cpuUs: number, wallUs: number): number {
  return wallUs > 0 ? Math.round((cpuUs / wallUs) * 1000) : 0;
}
