import { describe, expect, it } from 'vitest';
import { resolveConnectTarget } from '../../engine/transport/resolve-target.js';
import { TransportError } from '../../engine/transport/types.js';
import type { PlannedHost } from '../../engine/schema/plan.js';

const host: PlannedHost = {
  address: '10.0.0.11',
  port: 2222,
  user: 'cumulus',
  labels: {},
  transport: 'ssh',
  hostKey: 'SHA256:1Cg4oboe4+Vj5GwnMYhjLHbPZwSWxtQmvZIzUPYrQjg',
};

describe('resolveConnectTarget', () => {
  it('resolves key and known_hosts paths against the inventory folder', () => {
    const target = resolveConnectTarget(
      'leaf01',
      { ...host, auth: { keyFile: 'keys/ops_ed25519', knownHosts: '../known_hosts', agent: true } },
      { inventoryDir: '/srv/repo/inventories', env: {} },
    );
    expect(target).toEqual({
      name: 'leaf01',
      transport: 'ssh',
      address: '10.0.0.11',
      port: 2222,
      user: 'cumulus',
      hostKey: host.hostKey,
      keyFile: '/srv/repo/inventories/keys/ops_ed25519',
      knownHostsFile: '/srv/repo/known_hosts',
      agent: true,
    });
  });

  it('keeps absolute paths and expands ~ from HOME', () => {
    const target = resolveConnectTarget(
      'leaf01',
      { ...host, auth: { keyFile: '/etc/keys/k', knownHosts: '~/.ssh/known_hosts' } },
      { inventoryDir: '/srv/repo', env: { HOME: '/home/ops' } },
    );
    expect(target.keyFile).toBe('/etc/keys/k');
    expect(target.knownHostsFile).toBe('/home/ops/.ssh/known_hosts');
  });

  it('reads the password from the variable the inventory names', () => {
    const target = resolveConnectTarget(
      'leaf01',
      { ...host, auth: { passwordEnv: 'FABRIC_PASSWORD' } },
      { inventoryDir: '/srv', env: { FABRIC_PASSWORD: 's3cret-value' } },
    );
    expect(target.password).toBe('s3cret-value');
  });

  it.each([
    ['unset', {}, 'not set'],
    ['empty', { FABRIC_PASSWORD: '' }, 'empty'],
  ])('refuses a password variable that is %s, naming the variable and no secret', (_case, env, wording) => {
    const attempt = () =>
      resolveConnectTarget(
        'leaf01',
        { ...host, auth: { passwordEnv: 'FABRIC_PASSWORD' } },
        { inventoryDir: '/srv', env: { ...env, OTHER_SECRET: 'hunter2' } },
      );
    expect(attempt).toThrow(TransportError);
    try {
      attempt();
    } catch (error) {
      const transportError = error as TransportError;
      expect(transportError.code).toBe('CREDENTIALS_MISSING');
      expect(transportError.nonRetryable).toBe(true);
      expect(transportError.message).toContain('FABRIC_PASSWORD');
      expect(transportError.message).toContain(wording);
      expect(transportError.message).toContain('leaf01');
      expect(transportError.message).not.toContain('hunter2');
    }
  });

  it('passes a local host through without credentials', () => {
    const target = resolveConnectTarget(
      'controller',
      { port: 22, labels: {}, transport: 'local' },
      { inventoryDir: '/srv', env: {} },
    );
    expect(target).toEqual({ name: 'controller', transport: 'local', port: 22 });
  });
});
