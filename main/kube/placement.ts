// Where content's pods may run: an admin's node selector and tolerations, applied to every Job the
// launcher creates (main/kube/manifests.ts). Read from OFFHOST_JOB_NODE_SELECTOR and
// OFFHOST_JOB_TOLERATIONS (JSON, README "Configuration"); every entry is checked here, so a typo
// is a start-up error that names the variable and the entry, not a pod that never schedules.

export interface Toleration {
  key?: string;
  operator?: 'Exists' | 'Equal';
  value?: string;
  effect?: 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute';
  tolerationSeconds?: number;
}

export interface Placement {
  nodeSelector: Record<string, string>;
  tolerations: Toleration[];
}

export const NO_PLACEMENT: Placement = { nodeSelector: {}, tolerations: [] };

const NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** A label key as Kubernetes accepts it: an optional DNS-subdomain prefix and "/", then a name of at most 63 characters. */
export function labelKeyProblem(key: string): string | null {
  const slash = key.lastIndexOf('/');
  const prefix = slash >= 0 ? key.slice(0, slash) : null;
  const name = slash >= 0 ? key.slice(slash + 1) : key;
  if (prefix !== null && (prefix.length === 0 || prefix.length > 253 || !DNS_SUBDOMAIN.test(prefix)))
    return 'its prefix (before "/") must be a DNS subdomain: lowercase letters, digits, "-" and "."';
  if (name.length === 0 || name.length > 63 || !NAME.test(name))
    return 'its name must be 1-63 letters, digits, "-", "_" or ".", starting and ending with a letter or digit';
  return null;
}

function labelValueProblem(value: string): string | null {
  if (value === '') return null;
  if (value.length > 63 || !NAME.test(value)) return 'a label value must be at most 63 letters, digits, "-", "_" or ".", starting and ending with a letter or digit';
  return null;
}

function parseJson(name: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new Error(`${name} must be JSON (${(e as Error).message}), not ${JSON.stringify(text.length > 80 ? text.slice(0, 80) + '…' : text)}`);
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export function parseNodeSelector(text: string | undefined, name = 'OFFHOST_JOB_NODE_SELECTOR'): Record<string, string> {
  if (!text?.trim()) return {};
  const v = parseJson(name, text.trim());
  if (!isObject(v)) throw new Error(`${name} must be a JSON object of node labels, e.g. {"node.example.com/pool":"content"}`);
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(v)) {
    const kp = labelKeyProblem(k);
    if (kp) throw new Error(`${name}: the label key ${JSON.stringify(k)} is not valid: ${kp}`);
    if (typeof val !== 'string') throw new Error(`${name}: the value of ${JSON.stringify(k)} must be a string, not ${JSON.stringify(val)}`);
    const vp = labelValueProblem(val);
    if (vp) throw new Error(`${name}: the value ${JSON.stringify(val)} of ${JSON.stringify(k)} is not valid: ${vp}`);
    out[k] = val;
  }
  return out;
}

const TOLERATION_FIELDS = new Set(['key', 'operator', 'value', 'effect', 'tolerationSeconds']);
const EFFECTS = ['NoSchedule', 'PreferNoSchedule', 'NoExecute'];

export function parseTolerations(text: string | undefined, name = 'OFFHOST_JOB_TOLERATIONS'): Toleration[] {
  if (!text?.trim()) return [];
  const v = parseJson(name, text.trim());
  if (!Array.isArray(v)) throw new Error(`${name} must be a JSON array of tolerations, e.g. [{"key":"dedicated","operator":"Equal","value":"content","effect":"NoSchedule"}]`);
  return v.map((t, i): Toleration => {
    const at = `${name}[${i}]`;
    if (!isObject(t)) throw new Error(`${at} must be an object with key, operator, value, effect (and tolerationSeconds), not ${JSON.stringify(t)}`);
    for (const f of Object.keys(t)) if (!TOLERATION_FIELDS.has(f)) throw new Error(`${at}: unknown field ${JSON.stringify(f)} (a toleration has key, operator, value, effect, tolerationSeconds)`);
    const out: Toleration = {};
    if (t.key !== undefined) {
      if (typeof t.key !== 'string' || t.key === '') throw new Error(`${at}.key must be a non-empty string`);
      const kp = labelKeyProblem(t.key);
      if (kp) throw new Error(`${at}.key ${JSON.stringify(t.key)} is not valid: ${kp}`);
      out.key = t.key;
    }
    const operator = t.operator ?? 'Equal';
    if (operator !== 'Equal' && operator !== 'Exists') throw new Error(`${at}.operator must be "Equal" or "Exists", not ${JSON.stringify(t.operator)}`);
    out.operator = operator;
    if (t.value !== undefined) {
      if (typeof t.value !== 'string') throw new Error(`${at}.value must be a string, not ${JSON.stringify(t.value)}`);
      if (operator === 'Exists' && t.value !== '') throw new Error(`${at}: operator "Exists" takes no value (drop "value", or use "Equal")`);
      const vp = labelValueProblem(t.value);
      if (vp) throw new Error(`${at}.value ${JSON.stringify(t.value)} is not valid: ${vp}`);
      out.value = t.value;
    }
    if (out.key === undefined && operator !== 'Exists') throw new Error(`${at}: without a key the operator must be "Exists" (which tolerates every taint)`);
    if (t.effect !== undefined && t.effect !== '') {
      if (typeof t.effect !== 'string' || !EFFECTS.includes(t.effect)) throw new Error(`${at}.effect must be one of ${EFFECTS.join(', ')} (or left out for all), not ${JSON.stringify(t.effect)}`);
      out.effect = t.effect as Toleration['effect'];
    }
    if (t.tolerationSeconds !== undefined) {
      if (typeof t.tolerationSeconds !== 'number' || !Number.isSafeInteger(t.tolerationSeconds)) throw new Error(`${at}.tolerationSeconds must be a whole number of seconds, not ${JSON.stringify(t.tolerationSeconds)}`);
      if (out.effect !== 'NoExecute') throw new Error(`${at}.tolerationSeconds applies only with effect "NoExecute"`);
      out.tolerationSeconds = t.tolerationSeconds;
    }
    return out;
  });
}

/** The placement from the environment (both variables optional). */
export function placementFromEnv(env: NodeJS.ProcessEnv): Placement {
  return { nodeSelector: parseNodeSelector(env.OFFHOST_JOB_NODE_SELECTOR), tolerations: parseTolerations(env.OFFHOST_JOB_TOLERATIONS) };
}
