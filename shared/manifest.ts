// The parts of a bundle's manifest.json (as rsconnect, rsconnect-python and Posit Publisher write it)
// that decide where content runs. Other fields are kept but not checked.
import { z } from 'zod';
import { parseWith } from './validation';

const versionField = z.string({ error: 'A version must be text, e.g. "3.11.9".' }).trim().min(1, { error: 'A version must not be empty.' });
const requires = z.looseObject({ requires: z.string({ error: 'A version requirement must be text, e.g. ">=3.9,<3.13".' }).optional() }).optional();

export const manifestSchema = z.looseObject({
  version: z.number().optional(),
  platform: versionField.optional(),
  metadata: z.looseObject({ appmode: z.string().optional(), entrypoint: z.string().optional() }).optional(),
  python: z.looseObject({ version: versionField.optional() }).optional(),
  quarto: z.looseObject({ version: versionField.optional() }).optional(),
  node: z.looseObject({ version: versionField.optional() }).optional(),
  environment: z
    .looseObject({
      image: z.string().trim().min(1, { error: 'environment.image must not be empty.' }).optional(),
      identifier: z.string().trim().min(1, { error: 'environment.identifier must not be empty.' }).optional(),
      r: requires,
      python: requires,
      quarto: requires,
    })
    .optional(),
});
export type Manifest = z.output<typeof manifestSchema>;

export function parseManifest(input: unknown): Manifest {
  return parseWith(manifestSchema, input, () => 'InvalidManifest');
}

/** Where the content itself points when its manifest names no environment or image. */
export interface ContentDefaults {
  default_environment_guid?: string | null;
  default_image_name?: string | null;
}
