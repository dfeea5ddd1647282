// Turns zod issues into AppErrors with a stable code, a field path and a message a person can act on.
import type { z } from 'zod';
import { AppError, type ErrorBody, type ErrorCode } from './errors';

export type PathSegment = PropertyKey;

/** Longest piece of an input quoted back in a message: enough to recognise, never a whole upload. */
export const QUOTE_MAX_CHARS = 80;
/** A form shows every bad field; beyond this many, a list of problems helps nobody and costs bytes. */
export const MAX_ERROR_DETAILS = 20;

/**
 * `value` as JSON for a message, cut to QUOTE_MAX_CHARS characters (code points, so an emoji is
 * never split) with the full length said, so an error never echoes a huge input.
 */
export function quote(value: unknown): string {
  if (typeof value !== 'string') {
    let text: string | undefined;
    try {
      text = JSON.stringify(value);
    } catch {
      text = undefined;
    }
    if (text === undefined) return String(value);
    return [...text].length > QUOTE_MAX_CHARS ? `${[...text].slice(0, QUOTE_MAX_CHARS).join('')}… (truncated)` : text;
  }
  const chars = [...value];
  if (chars.length <= QUOTE_MAX_CHARS) return JSON.stringify(value);
  return `${JSON.stringify(chars.slice(0, QUOTE_MAX_CHARS).join(''))}… (${chars.length} characters)`;
}

/** ['python', 'installations', 0, 'version'] -> "python.installations[0].version" */
export function formatPath(path: readonly PathSegment[]): string {
  let out = '';
  for (const seg of path) {
    // A field name comes from the input too (an unknown key may be megabytes long).
    const name = [...String(seg)].length > QUOTE_MAX_CHARS ? `${[...String(seg)].slice(0, QUOTE_MAX_CHARS).join('')}…` : String(seg);
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out === '' ? name : `.${name}`;
  }
  return out;
}

const TYPE_WORDS: Record<string, string> = {
  string: 'text',
  number: 'a number',
  int: 'a whole number',
  boolean: 'true or false',
  object: 'an object',
  array: 'a list',
  null: 'null',
  undefined: 'missing',
};

function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'string') return 'text';
  if (typeof v === 'object') return 'an object';
  return `a ${typeof v}`;
}

/** zod's default messages are terse; rewrite the common ones so they name the field. */
function messageFor(issue: z.core.$ZodIssue, field: string): string {
  const where = field === '' ? 'The request body' : `"${field}"`;
  const custom = issue.message && !issue.message.startsWith('Invalid input') && !issue.message.startsWith('Unrecognized key') && !issue.message.startsWith('Invalid option');
  if (custom) return issue.message;
  switch (issue.code) {
    case 'invalid_type':
      if (issue.input === undefined) return `${where} is required.`;
      return `${where} must be ${TYPE_WORDS[issue.expected] ?? issue.expected}, not ${describeValue(issue.input)}.`;
    case 'unrecognized_keys':
      return `Unknown field ${issue.keys.map((k) => `"${formatPath([...issue.path, k])}"`).join(', ')}.`;
    case 'invalid_value':
      return `${where} must be one of ${issue.values.map((v) => quote(v)).join(', ')}.`;
    default:
      return `${where} is invalid: ${issue.message}`;
  }
}

export function issuesToError(
  issues: readonly z.core.$ZodIssue[],
  codeFor: (path: readonly PathSegment[], issue: z.core.$ZodIssue) => ErrorCode,
): AppError {
  const details: NonNullable<ErrorBody['details']> = issues.slice(0, MAX_ERROR_DETAILS).map((issue) => {
    const path = issue.code === 'unrecognized_keys' && issue.keys.length === 1 ? [...issue.path, issue.keys[0]!] : issue.path;
    const field = formatPath(path);
    const code = issue.code === 'unrecognized_keys' ? 'InvalidRequest' : codeFor(path, issue);
    return { code, message: messageFor(issue, field), ...(field ? { field } : {}) };
  });
  const first = details[0]!;
  return new AppError(first.code, first.message, first.field, details);
}

/** Parse `input` with `schema`, or throw an AppError that says what was wrong and where. */
export function parseWith<S extends z.ZodType>(
  schema: S,
  input: unknown,
  codeFor: (path: readonly PathSegment[], issue: z.core.$ZodIssue) => ErrorCode = () => 'InvalidRequest',
): z.output<S> {
  const result = schema.safeParse(input, { reportInput: true });
  if (!result.success) throw issuesToError(result.error.issues, codeFor);
  return result.data;
}
