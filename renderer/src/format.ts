// Small formatting and error helpers shared by the Content and Quotas pages.
import { AppError } from '../../shared/errors';
import { describeCpu, describeMemory } from '../../shared/quantity';

/** Field -> first message, from an AppError's details (or itself); '' holds what names no field. */
export type FieldErrors = Record<string, string>;
export function fieldErrors(e: unknown): FieldErrors {
  if (!(e instanceof AppError)) return { '': (e as Error).message };
  const list = e.details?.length ? e.details : [{ code: e.code, message: e.message, field: e.field }];
  const out: FieldErrors = {};
  for (const d of list) out[d.field ?? ''] ??= d.message;
  return out;
}

/** Cores for people: "0.5 cores (500m)" is too long for a hint, so "500m" / "2 cores". */
export const showCores = (cores: number) => describeCpu(Math.round(cores * 1000));
export const showBytes = (bytes: number) => describeMemory(bytes);

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
const relative = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });

/** "3 minutes ago", "yesterday"; the exact time goes in a title. */
export function ago(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return '—';
  const s = Math.round((new Date(iso).getTime() - now) / 1000);
  const abs = Math.abs(s);
  if (abs < 45) return 'just now';
  if (abs < 3600) return relative.format(Math.round(s / 60), 'minute');
  if (abs < 86_400) return relative.format(Math.round(s / 3600), 'hour');
  if (abs < 30 * 86_400) return relative.format(Math.round(s / 86_400), 'day');
  return dateTime.format(new Date(iso));
}
export const exact = (iso: string | null | undefined) => (iso ? dateTime.format(new Date(iso)) : '');
