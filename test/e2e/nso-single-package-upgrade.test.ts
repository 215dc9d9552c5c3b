import { afterEach, describe, expect, it } from 'vitest';
import { applyRunbook, startTestLab, type TestLab } from '../helpers/lab-apply.js';
import { connect, exec } from '../helpers/ssh-client.js';

// runbooks/nso-single-package-upgrade.yaml against the lab's standalone NSO (nso0), through real SSH:
// seed 002 (../shared/seeds/002_05ac0b52f447c85e.txt), "Package Upgrade", the single-node procedure.

const NSO0_ONLY = { spines: 0, leaves: 0, storageNodes: 0, chassis: false, nsoStandalone: true };

let testLab: TestLab | undefined;
afterEach(async () => {
  await testLab?.stop();
  testLab = undefined;
});

const inUse = () => (testLab!.lab.state('nso0') as { packages: { inUse: string[] } }).packages.inUse;

describe('nso-single-package-upgrade', () => {
  it('backs up, installs the package with replace-existing and reloads: the new version is up', async () => {
    testLab = await startTestLab({ topology: NSO0_ONLY });
    const run = await applyRunbook(
      'nso-single-package-upgrade.yaml',
      testLab.inventoryPath,
      ['package=cisco-ios-cli-6.100', 'packageVersion=6.100.3', 'packageFile=/tmp/packages/ncs-6.1-cisco-ios-cli-6.100-6.100.3.tar.gz'],
      { root: testLab.dir },
    );
    expect(run.exitCode, run.stdout + run.stderr).toBe(0);
    expect(run.steps.nso0!.find((r) => r.id === 'reload')?.stdout).toContain('>>> System upgrade has completed successfully.');
    expect(inUse()).toContain('cisco-ios-cli-6.100@6.100.3 (built for 6.1)');
    expect(inUse()).not.toContain('cisco-ios-cli-6.100@6.100.2 (built for 6.1)');
  });

  it('a package built for another release stops the run before any change, naming it', async () => {
    testLab = await startTestLab({ topology: NSO0_ONLY });
    const run = await applyRunbook(
      'nso-single-package-upgrade.yaml',
      testLab.inventoryPath,
      ['package=cisco-ios-cli-6.100', 'packageVersion=6.100.3', 'packageFile=/tmp/packages/ncs-6.2-cisco-ios-cli-6.100-6.100.3.tar.gz'],
      { root: testLab.dir },
    );
    expect(run.exitCode).toBe(1);
    expect(run.steps.nso0!.find((r) => r.id === 'package-built-for-running-release')?.hint).toBe(
      '/tmp/packages/ncs-6.2-cisco-ios-cli-6.100-6.100.3.tar.gz was not compiled for NSO 6.1, the release this node runs; obtain the package built for it.',
    );
    expect(testLab.lab.commandLog('nso0').some((entry) => entry.command === 'ncs-backup')).toBe(false);
    expect(inUse()).toContain('cisco-ios-cli-6.100@6.100.2 (built for 6.1)');
  });

  it('a reload that fails (a package link lost meanwhile) restores the backup: the old package set runs again', async () => {
    const loseLink = async (node: string, line: string) => {
      if (node !== 'nso0' || line !== "ncs_cli -C -c 'packages reload'") return;
      const device = testLab!.lab.device('nso0');
      const client = await connect({ host: device.address, port: device.port });
      await exec(client, 'rm /var/opt/ncs/packages/ncs-6.1-resource-manager-4.2.9.tar.gz');
      client.end();
    };
    testLab = await startTestLab({ topology: NSO0_ONLY, nso: { beforeCommand: loseLink } });
    const run = await applyRunbook(
      'nso-single-package-upgrade.yaml',
      testLab.inventoryPath,
      ['package=cisco-ios-cli-6.100', 'packageVersion=6.100.3', 'packageFile=/tmp/packages/ncs-6.1-cisco-ios-cli-6.100-6.100.3.tar.gz'],
      { root: testLab.dir },
    );
    expect(run.exitCode).toBe(1);
    expect(run.steps.nso0!.find((r) => r.id === 'reload')).toMatchObject({ status: 'failed' });
    expect(run.states.nso0).toBe('rolled-back');
    expect(inUse()).toEqual(['cisco-ios-cli-6.100@6.100.2 (built for 6.1)', 'cisco-iosxr-cli-7.52@7.52.1 (built for 6.1)', 'resource-manager@4.2.9 (built for 6.1)']);
    expect((testLab.lab.state('nso0') as { running: boolean }).running).toBe(true);
  });
});
