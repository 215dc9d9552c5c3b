/** An inventory of one host reached through the local transport: commands run on this machine. */
export const LOCAL_BOX_INVENTORY = `apiVersion: runbook/v1
kind: Inventory
defaults: { transport: local, groups: [box] }
hosts:
  box: {}
`;
