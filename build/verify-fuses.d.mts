// Types for build/verify-fuses.mjs (imported by test/unit/electron-fuses.test.ts).
export interface FuseExpectation {
  name: string;
  index: number;
  /** The byte expected in the fuse wire: '1' (on) or '0' (off). */
  expected: number;
}
export function fuseExpectations(electronFuses: unknown): FuseExpectation[];
export function wireProblems(wire: Record<number, number>, expectations: FuseExpectation[]): string[];
export function packagedApps(releaseDir: string, names: { productName: string; executableName: string }): string[];
export function verifyPackagedFuses(releaseDir: string, configFile?: string, packageFile?: string): Promise<{ apps: string[]; problems: string[] }>;
