// `node build/icons.mjs`: the app icon in every size the installers want, from build/resources/icon.svg.
//   build/resources/icons/<N>x<N>.png   N = 16 … 1024 (Linux: AppImage, deb, rpm take the folder)
//   build/resources/icon.png            1024 px (electron-builder's fallback)
//   build/resources/icon.ico            16, 24, 32, 48, 64, 128, 256 (Windows: nsis, the .exe)
//   build/resources/icon.icns           16 … 1024 incl. @2x (macOS: dmg, the .app)
// Each PNG is rendered from the SVG at its own size (@resvg/resvg-js), not scaled from a big one.
// The outputs are committed; test/unit/electron-builder-config.test.ts checks they match the SVG.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Resvg } from '@resvg/resvg-js';
import pngToIco from 'png-to-ico';
import { Icns, IcnsImage } from '@fiahfy/icns';

const here = path.dirname(fileURLToPath(import.meta.url));
export const RESOURCES = path.join(here, 'resources');
export const PNG_SIZES = [16, 24, 32, 48, 64, 128, 256, 512, 1024];
export const ICO_SIZES = [16, 24, 32, 48, 64, 128, 256];
// Apple's icon types that hold PNG data: type → pixel size.
export const ICNS_TYPES = { icp4: 16, icp5: 32, ic11: 32, icp6: 64, ic12: 64, ic07: 128, ic13: 256, ic08: 256, ic14: 512, ic09: 512, ic10: 1024 };

export function renderPng(svg, size) {
  return Buffer.from(new Resvg(svg, { fitTo: { mode: 'width', value: size }, background: 'rgba(0,0,0,0)' }).render().asPng());
}

export async function buildIcons(svg = fs.readFileSync(path.join(RESOURCES, 'icon.svg'))) {
  const png = Object.fromEntries(PNG_SIZES.map((s) => [s, renderPng(svg, s)]));
  const files = {};
  for (const s of PNG_SIZES) files[`icons/${s}x${s}.png`] = png[s];
  files['icon.png'] = png[1024];
  files['icon.ico'] = await pngToIco(ICO_SIZES.map((s) => png[s]));
  const icns = new Icns();
  for (const [type, size] of Object.entries(ICNS_TYPES)) icns.append(IcnsImage.fromPNG(png[size], type));
  files['icon.icns'] = icns.data;
  return files;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const files = await buildIcons();
  for (const [name, data] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(RESOURCES, name)), { recursive: true });
    fs.writeFileSync(path.join(RESOURCES, name), data);
    console.log(`${path.join('build/resources', name)}  ${data.length} bytes`);
  }
}
