// PodMetrics (metrics.k8s.io/v1beta1) → one sample per job. Pure: the sampler lists the pods'
// metrics once per interval per namespace on our label selector, and this maps each item to its
// job by the offhost.dev/job-id label, checked against the job's content guid (a pod of another
// database sharing the namespace with the same number is ignored), summing its containers.
import { parseCpu, parseMemory } from '../../shared/quantity';
import { LABELS } from '../kube/manifests';
import type { SampleRow } from '../store/metrics-repo';

/** The parts of a metrics.k8s.io PodMetrics item read here. */
export interface PodMetricsItem {
  metadata?: { name?: string; namespace?: string; labels?: Record<string, string> };
  timestamp?: string;
  window?: string;
  containers?: { name?: string; usage?: { cpu?: string; memory?: string } }[];
}

export interface MappedMetrics {
  samples: SampleRow[];
  /** Items listed. */
  pods: number;
  /** Items that are a known job's pod. */
  matched: number;
  /** Items whose figures could not be read (named in `problems`, at most a few). */
  bad: number;
  problems: string[];
}

const NANO = /^(\d+)n$/;
const MICRO = /^(\d+)u$/;
const MILLI = /^(\d+)m$/;
const KI = /^(\d+)Ki$/;
const MI = /^(\d+)Mi$/;
const PLAIN = /^(\d+)$/;

/**
 * CPU in nanocores. metrics-server prints nanocores ("12345678n"); other forms go through the
 * shared quantity parser (millicore precision).
 */
export function cpuNanocores(q: string): number {
  let m = NANO.exec(q);
  if (m) return Number(m[1]);
  if ((m = MICRO.exec(q))) return Number(m[1]) * 1000;
  if ((m = MILLI.exec(q))) return Number(m[1]) * 1e6;
  return parseCpu(q) * 1e6;
}

/** Memory in bytes; metrics-server prints kibibytes ("123456Ki"). */
export function memoryBytes(q: string): number {
  let m = KI.exec(q);
  if (m) return Number(m[1]) * 1024;
  if ((m = MI.exec(q))) return Number(m[1]) * 1048576;
  if ((m = PLAIN.exec(q))) return Number(m[1]);
  return parseMemory(q);
}

/**
 * Map a PodMetrics list to samples. `known` holds the jobs that may have a pod (id → content
 * guid). A job with two pods listed (the old one still terminating) keeps the newest figure.
 * `nowSec` stands in for a missing or unreadable timestamp.
 */
export function mapPodMetrics(items: readonly PodMetricsItem[], known: ReadonlyMap<number, string>, nowSec: number): MappedMetrics {
  const byJob = new Map<number, SampleRow>();
  let matched = 0;
  let bad = 0;
  const problems: string[] = [];
  for (const item of items) {
    const labels = item.metadata?.labels;
    const idText = labels?.[LABELS.jobId];
    if (idText === undefined || !/^[1-9]\d{0,15}$/.test(idText)) continue;
    const id = Number(idText);
    const guid = known.get(id);
    if (guid === undefined) continue;
    const podGuid = labels?.[LABELS.contentGuid];
    if (podGuid !== undefined && podGuid.toLowerCase() !== guid) continue;
    matched++;
    let nanocores = 0;
    let bytes = 0;
    try {
      for (const c of item.containers ?? []) {
        nanocores += cpuNanocores(c.usage?.cpu ?? '0');
        bytes += memoryBytes(c.usage?.memory ?? '0');
      }
    } catch (e) {
      bad++;
      if (problems.length < 5) problems.push(`${item.metadata?.name ?? `job ${id}`}: ${(e as Error).message}`);
      continue;
    }
    const parsed = item.timestamp ? Date.parse(item.timestamp) : NaN;
    const t = Number.isFinite(parsed) ? Math.floor(parsed / 1000) : nowSec;
    const sample: SampleRow = { job_id: id, t, cpu_millicores: Math.ceil(nanocores / 1e6), memory_bytes: bytes };
    const prior = byJob.get(id);
    if (!prior || prior.t <= t) byJob.set(id, sample);
  }
  return { samples: [...byJob.values()], pods: items.length, matched, bad, problems };
}

export interface Current {
  t: number;
  cpu_millicores: number;
  memory_bytes: number;
}

/**
 * What changed between two cycles: samples whose figures differ from the previous ones (or are
 * new), and jobs that had figures and have none now.
 */
export function diffUsage(previous: ReadonlyMap<number, Current>, samples: readonly SampleRow[]): { changed: SampleRow[]; gone: number[] } {
  const changed: SampleRow[] = [];
  const seen = new Set<number>();
  for (const s of samples) {
    seen.add(s.job_id);
    const p = previous.get(s.job_id);
    if (!p || p.cpu_millicores !== s.cpu_millicores || p.memory_bytes !== s.memory_bytes) changed.push(s);
  }
  const gone: number[] = [];
  for (const id of previous.keys()) if (!seen.has(id)) gone.push(id);
  return { changed, gone };
}
