import { describe, expect, it } from 'vitest';
import { compareVersions, isVersion, parseSpecifier, parseVersion, satisfies, SpecifierError } from '../../shared/version';

const v = (t: string) => parseVersion(t, { loose: true })!;

describe('versions', () => {
  it.each(['4.3.1', '3.11.9', '1.5.57', '3.11', '1.2.3.4', '3.13.0rc1', '4.5.0-devel', '2.0.0.beta1'])('%s is a version', (t) => {
    expect(isVersion(t)).toBe(true);
  });

  it.each(['', '4', 'v4.3.1', '4.x', '4.3.1.2.5', 'latest', '4..3', '4.3-', ' 4.3.1 x'])('%j is not an installation version', (t) => {
    expect(isVersion(t)).toBe(false);
  });

  it('orders by release parts, padding with zeros, and pre-releases first', () => {
    const sorted = ['3.10.0', '3.9.12', '3.11', '3.11.0rc1', '3.11.1', '3.9'].map(v).sort(compareVersions).map((x) => x.text);
    expect(sorted).toEqual(['3.9', '3.9.12', '3.10.0', '3.11.0rc1', '3.11', '3.11.1']);
    expect(compareVersions(v('3.11'), v('3.11.0'))).toBe(0);
  });
});

describe('specifiers', () => {
  const cases: [string, string, boolean][] = [
    ['>=3.9,<3.13', '3.12.4', true],
    ['>=3.9,<3.13', '3.13.0', false],
    ['>=3.9,<3.13', '3.8.18', false],
    ['>=3.9, <3.13', '3.9.0', true],
    ['~=3.11', '3.11.0', true],
    ['~=3.11', '3.12.1', true],
    ['~=3.11', '4.0.0', false],
    ['~=3.11', '3.10.9', false],
    ['~=3.11.2', '3.11.9', true],
    ['~=3.11.2', '3.12.0', false],
    ['~=3.11.2', '3.11.1', false],
    ['==3.11.*', '3.11.9', true],
    ['==3.11.*', '3.12.0', false],
    ['!=3.11.*', '3.11.2', false],
    ['!=3.11.*', '3.10.2', true],
    ['==3.11', '3.11.0', true],
    ['==3.11', '3.11.4', false],
    ['!=3.12.1', '3.12.1', false],
    ['!=3.12.1', '3.12.2', true],
    ['>= 4.2', '4.3.1', true],
    ['>= 4.2', '4.1.3', false],
    ['>4.2', '4.2.0', false],
    ['<=4.2', '4.2.0', true],
    ['3.11', '3.11.7', true], // a bare version is a prefix
    ['3.11', '3.1.7', false],
    ['<3.12', '3.12.0rc1', false], // "<" excludes pre-releases of the bound itself
    ['<3.12', '3.11.9', true],
    ['===3.11.9', '3.11.9', true],
    ['===3.11.9', '3.11.09', false],
    ['>=4.2.0, <5.0', '4.4.1', true],
  ];
  it.each(cases)('%s with %s -> %s', (spec, version, expected) => {
    expect(satisfies(v(version), parseSpecifier(spec))).toBe(expected);
  });

  it.each([
    ['', /empty/],
    ['>=3.9,', /empty clause/],
    ['>>3.9', /cannot read ">>3\.9"/],
    ['>=three', /cannot read/],
    ['>=3.*', /only allowed with == and !=/],
    ['~=3', /needs at least two parts/],
    ['=3.9', /cannot read/],
  ])('%j is rejected', (spec, message) => {
    expect(() => parseSpecifier(spec)).toThrow(SpecifierError);
    expect(() => parseSpecifier(spec)).toThrow(message);
  });
});
