export const RESOURCES: string;
export const PNG_SIZES: number[];
export const ICO_SIZES: number[];
export const ICNS_TYPES: Record<string, number>;
export function renderPng(svg: Buffer | string, size: number): Buffer;
export function buildIcons(svg?: Buffer | string): Promise<Record<string, Buffer>>;
