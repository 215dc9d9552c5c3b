import { Type, type Static } from '@sinclair/typebox';
import { ApiVersion, Labels, NAME_PATTERN, Policy, defineMap, defineObject } from './common.js';
import { HINT } from './vocabulary.js';

export const HOST_KEY_PATTERN = '^SHA256:[A-Za-z0-9+/]{43}=?$';

export const Auth = defineObject(
  {
    keyFile: Type.Optional(
      Type.String({ description: 'A private key file, relative to the inventory file.', examples: ['keys/ops_ed25519'] }),
    ),
    agent: Type.Optional(Type.Boolean({ description: 'Use the SSH agent at $SSH_AUTH_SOCK.' })),
    passwordEnv: Type.Optional(
      Type.String({
        pattern: '^[A-Za-z_][A-Za-z0-9_]*$',
        description: 'The environment variable holding the password. Never the password itself.',
        examples: ['FABRIC_PASSWORD'],
      }),
    ),
    knownHosts: Type.Optional(
      Type.String({ description: 'A known_hosts file (relative to the inventory) to check host keys against.' }),
    ),
  },
  {
    description: 'Credentials, by reference only: a key file, the agent or an environment variable.',
    minProperties: 1,
    examples: [{ passwordEnv: 'FABRIC_PASSWORD' }, { keyFile: 'keys/ops_ed25519' }, { agent: true }],
  },
);

const hostProperties = {
  address: Type.Optional(
    Type.String({ description: 'IP address or DNS name to reach the host at.', examples: ['10.0.0.11'], minLength: 1 }),
  ),
  port: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535, description: 'SSH port (default 22).' })),
  user: Type.Optional(Type.String({ description: 'SSH user.', examples: ['cumulus'] })),
  role: Type.Optional(
    Type.String({ description: 'The host role, used by `strategy.order` and `on`.', examples: ['spine', 'primary'] }),
  ),
  groups: Type.Optional(Type.Array(Type.String(), { description: 'Groups the host belongs to.', examples: [['fabric']] })),
  labels: Type.Optional(Labels),
  platform: Type.Optional(
    Type.String({ description: 'The device platform; snapshot profiles choose commands by it.', examples: ['cumulus'] }),
  ),
  transport: Type.Optional(
    Type.Union([Type.Literal('ssh'), Type.Literal('local')], {
      description: 'How commands reach the host: ssh (default) or local, for the controller itself.',
    }),
  ),
  hostKey: Type.Optional(
    Type.String({
      pattern: HOST_KEY_PATTERN,
      description: 'The pinned SSH host key fingerprint, as `ssh-keygen -lf` prints it.',
      examples: ['SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s'],
      [HINT]: 'must be a fingerprint like SHA256:<43 base64 characters>, as `ssh-keygen -lf` prints it',
    }),
  ),
  auth: Type.Optional(Auth),
};

export const HostDefaults = defineObject(
  Object.fromEntries(Object.entries(hostProperties).filter(([key]) => key !== 'address')) as Omit<
    typeof hostProperties,
    'address'
  >,
  { description: 'Fields every host has unless it sets its own.' },
);

export const Host = defineObject(hostProperties, { description: 'One host.' });

export const Inventory = defineObject(
  {
    $schema: Type.Optional(Type.String({ description: 'The JSON Schema of this file, for editors.' })),
    apiVersion: ApiVersion,
    kind: Type.Literal('Inventory', { description: 'Always `Inventory`.' }),
    metadata: Type.Optional(
      defineObject(
        {
          name: Type.String({ pattern: NAME_PATTERN, description: 'The inventory name.', examples: ['lab'] }),
          description: Type.Optional(Type.String({ description: 'What the inventory covers.' })),
        },
        { description: 'Name and description.' },
      ),
    ),
    policy: Type.Optional(Policy),
    defaults: Type.Optional(HostDefaults),
    groups: Type.Optional(
      defineMap(
        defineObject(
          { description: Type.Optional(Type.String({ description: 'What the group is.' })) },
          { description: 'A group of hosts.' },
        ),
        { description: 'Host groups, by name.' },
      ),
    ),
    hosts: defineMap(Host, {
      description: 'Hosts by name.',
      keyPattern: '^[A-Za-z0-9][A-Za-z0-9._-]*$',
      minProperties: 1,
    }),
  },
  {
    $id: 'https://runbook.dev/schemas/inventory.schema.json',
    title: 'Inventory',
    description: 'The hosts a runbook can target, with how to reach them.',
  },
);

export type Inventory = Static<typeof Inventory>;
export type Host = Static<typeof Host>;
export type Auth = Static<typeof Auth>;
