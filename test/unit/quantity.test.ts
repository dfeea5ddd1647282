import { describe, expect, it } from 'vitest';
import { describeCpu, describeMemory, formatCpu, formatMemory, parseCpu, parseMemory, QuantityError } from '../../shared/quantity';

const Ki = 1024;
const Mi = Ki * 1024;
const Gi = Mi * 1024;

describe('parseCpu (millicores)', () => {
  it.each([
    ['250m', 250],
    ['1', 1000],
    ['1.5', 1500],
    ['0.1', 100],
    ['.5', 500],
    ['2.', 2000],
    ['0', 0],
    ['0m', 0],
    ['-0', 0],
    ['+1', 1000],
    ['1000m', 1000],
    ['1500m', 1500],
    ['1k', 1_000_000],
    ['1M', 1_000_000_000],
    ['1e3', 1_000_000],
    ['1E3', 1_000_000],
    ['1e-3', 1],
    ['100e-3', 100],
    ['1Ki', 1024 * 1000],
    // Fractions of a millicore round up, as the apiserver does.
    ['1n', 1],
    ['1u', 1],
    ['100u', 1],
    ['1001u', 2],
    ['0.0001', 1],
    ['1.0005', 1001],
    ['12345678901234m', 12345678901234],
  ])('%s -> %d', (input, expected) => {
    expect(parseCpu(input)).toBe(expected);
  });

  it.each([
    [0.25, 250],
    [2, 2000],
    [1.5, 1500],
    [0, 0],
    [1e-7, 1],
  ])('number %d cores -> %d millicores', (input, expected) => {
    expect(parseCpu(input)).toBe(expected);
  });
});

describe('parseMemory (bytes)', () => {
  it.each([
    ['512Mi', 512 * Mi],
    ['1Gi', Gi],
    ['1.5Gi', 1.5 * Gi],
    ['16Gi', 16 * Gi],
    ['1Ki', Ki],
    ['1Ti', 1024 * Gi],
    ['1Pi', 1024 * 1024 * Gi],
    ['1Ei', -1], // 2^60 bytes is past Number.MAX_SAFE_INTEGER
    ['1k', 1000],
    ['1M', 1_000_000],
    ['1G', 1_000_000_000],
    ['1T', 1e12],
    ['1P', 1e15],
    ['2E', -1],
    ['129e6', 129_000_000],
    ['129M', 129_000_000],
    ['123Mi', 123 * Mi],
    ['1000', 1000],
    ['0', 0],
    ['1m', 1], // a thousandth of a byte rounds up to one byte
    ['500m', 1],
    ['1500m', 2],
    ['0.5Ki', 512],
    ['1e0', 1],
  ])('%s -> %d', (input, expected) => {
    if (expected === -1) expect(() => parseMemory(input)).toThrow(/too large/);
    else expect(parseMemory(input)).toBe(expected);
  });

  it('takes numbers as bytes', () => {
    expect(parseMemory(1024)).toBe(1024);
    expect(parseMemory(0.5)).toBe(1);
  });
});

describe('bad quantities are rejected with a message that quotes the input', () => {
  it.each([
    ['', /"" is not a valid quantity: it is empty/],
    ['   ', /it is empty/],
    [' 1', /leading or trailing spaces/],
    ['1 ', /leading or trailing spaces/],
    ['-1', /"-1" is not a valid quantity: it is negative/],
    ['-250m', /negative/],
    ['-1Gi', /negative/],
    ['abc', /"abc" is not a valid quantity: expected a number/],
    ['NaN', /"NaN"/],
    ['Infinity', /"Infinity"/],
    ['1.2.3', /"1\.2\.3"/],
    ['1GB', /"1GB"/],
    ['1gi', /"1gi"/],
    ['1 Gi', /"1 Gi"/],
    ['Gi', /"Gi"/],
    ['m', /"m"/],
    ['1Mi2', /"1Mi2"/],
    ['1e', /"1e"/],
    ['1e3.5', /"1e3\.5"/],
    ['0x10', /"0x10"/],
    ['1_000', /"1_000"/],
    ['1,5', /"1,5"/],
    ['.', /"\."/],
    ['1e99', /exponent is out of range/],
  ])('%j', (input, message) => {
    expect(() => parseMemory(input)).toThrow(QuantityError);
    expect(() => parseMemory(input)).toThrow(message);
    expect(() => parseCpu(input)).toThrow(QuantityError);
  });

  it('rejects non-finite and negative numbers', () => {
    expect(() => parseCpu(Number.NaN)).toThrow(/"NaN" is not a valid quantity: it is not a finite number/);
    expect(() => parseCpu(Number.POSITIVE_INFINITY)).toThrow(/not a finite number/);
    expect(() => parseMemory(-1)).toThrow(/"-1" is not a valid quantity: it is negative/);
  });

  it('rejects values too large for a safe integer', () => {
    expect(() => parseCpu('10P')).toThrow(/too large to express in millicores/);
    expect(() => parseMemory('9Ei')).toThrow(/too large to express in bytes/);
  });

  it('rejects non-strings at run time', () => {
    expect(() => parseMemory({} as unknown as string)).toThrow(/expected a string/);
  });
});

describe('format', () => {
  it.each([
    [0, '0'],
    [250, '250m'],
    [1000, '1'],
    [1500, '1500m'],
    [4000, '4'],
    [1, '1m'],
  ])('formatCpu(%d) = %s', (m, text) => {
    expect(formatCpu(m)).toBe(text);
    expect(parseCpu(text)).toBe(m);
  });

  it.each([
    [0, '0'],
    [512 * Mi, '512Mi'],
    [Gi, '1Gi'],
    [1.5 * Gi, '1536Mi'],
    [16 * Gi, '16Gi'],
    [1_000_000_000, '1G'],
    [129_000_000, '129M'],
    [1000, '1k'],
    [1024, '1Ki'],
    [1023, '1023'],
    [1536, '1536'],
  ])('formatMemory(%d) = %s and parses back', (b, text) => {
    expect(formatMemory(b)).toBe(text);
    expect(parseMemory(text)).toBe(b);
  });

  it('refuses what it cannot represent', () => {
    expect(() => formatCpu(-1)).toThrow(RangeError);
    expect(() => formatCpu(1.5)).toThrow(/not a whole/);
    expect(() => formatMemory(Number.NaN)).toThrow(RangeError);
  });

  it('describes for people', () => {
    expect(describeCpu(250)).toBe('250m');
    expect(describeCpu(1000)).toBe('1 core');
    expect(describeCpu(1500)).toBe('1.5 cores');
    expect(describeMemory(900)).toBe('900 B');
    expect(describeMemory(512 * Mi)).toBe('512 MiB');
    expect(describeMemory(1.5 * Gi)).toBe('1.5 GiB');
    expect(describeMemory(150 * Gi)).toBe('150 GiB');
  });
});
