import { Type, type TSchema, type ObjectOptions, type TProperties } from '@sinclair/typebox';
import { HINT } from './vocabulary.js';


// Patterns shared by the schemas; the loader's semantic rules parse what the pattern admits.
export const DURATION_PATTERN = '^[0-9]+(ms|s|m|h)$';
export const SEMVER_PATTERN =
  '^(0|[1-9][0-9]*)\\.(0|[1-9][0-9]*)\\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?(\\+[0-9A-Za-z.-]+)?$';
export const IDENTIFIER_PATTERN = '^[A-Za-z_][A-Za-z0-9_-]*$';
export const NAME_PATTERN = '^[a-z0-9]([a-z0-9-]*[a-z0-9])?$';

/** An object schema that rejects unknown properties, as every object in the formats does. */
export function defineObject<P extends TProperties>(properties: P, options: ObjectOptions = {}) {
  return Type.Object(properties, { additionalProperties: false, ...options });
}

/** A map from names to values (params, labels, hosts). */
export function defineMap<T extends TSchema>(value: T, options: ObjectOptions & { keyPattern?: string } = {}) {
  const { keyPattern = IDENTIFIER_PATTERN, ...rest } = options;
  return Type.Record(Type.String({ pattern: keyPattern }), value, { ...rest, additionalProperties: false });
}

export function defineDuration(description: string) {
  return Type.Union(
    [
      Type.String({ pattern: DURATION_PATTERN, description: `${description} (a duration: 30s, 10m, 1h or 500ms)` }),
      Type.Integer({ minimum: 0, description: `${description} (milliseconds)` }),
    ],
    { description, examples: ['30s', '10m', '1h'], [HINT]: 'must be a duration like 30s, 10m or 1h (or a number of milliseconds)' },
  );
}

export const ApiVersion = Type.Literal('runbook/v1', {
  description: 'The format version. Always `runbook/v1`.',
});

export const Policy = defineObject(
  {
    requireApproval: Type.Optional(
      Type.Boolean({ description: 'Refuse to apply a plan that no one has approved with `runbook approve`.' }),
    ),
    forbidSelfApproval: Type.Optional(
      Type.Boolean({
        description:
          'Refuse an approval committed by anyone who authored a commit that changed the runbook or the inventory since the last applied plan of them (or since the branch left `--base`).',
      }),
    ),
    requireSignedApprovals: Type.Optional(
      Type.Boolean({ description: 'The commit that adds an approval must carry a valid SSH signature by the approver, checked against `allowedSignersFile`.' }),
    ),
    allowedSignersFile: Type.Optional(
      Type.String({
        minLength: 1,
        description: "The allowed-signers file (ssh-keygen's format, the approver's email as principal), relative to the repository root; read as committed at HEAD.",
      }),
    ),
    maxConcurrentRuns: Type.Optional(
      Type.Integer({ minimum: 1, description: 'How many runs may hold host locks at once (default 5).' }),
    ),
  },
  {
    description:
      'Safety policy. Runbooks and inventories may both carry one; the stricter of the two applies.',
    examples: [{ requireApproval: true, forbidSelfApproval: true, maxConcurrentRuns: 2 }, { requireApproval: true, requireSignedApprovals: true, allowedSignersFile: '.gitops/allowed_signers' }],
  },
);

export const Labels = defineMap(Type.String({ description: 'Label value.' }), {
  description: 'Free-form string labels, used to select hosts.',
  examples: [{ site: 'ams', rack: 'r12' }],
});
