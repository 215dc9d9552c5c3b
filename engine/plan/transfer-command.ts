/** What a fetch or put step moves, rendered: `remote`, and the artifact name or the repository file. */
export interface TransferEnds {
  remote: string;
  artifact: string;
  file?: string;
}

/** How plans and step records name a transfer (no host name: hosts with the same steps share one host plan). */
export function formatTransferCommand(kind: 'fetch' | 'put', ends: TransferEnds): string {
  if (kind === 'fetch') return `sftp get ${ends.remote} -> artifact ${ends.artifact}`;
  return `sftp put ${ends.file ?? `artifact ${ends.artifact}`} -> ${ends.remote}`;
}

/** The artifact name: the step's own, or the remote file's name. */
export function nameArtifact(remote: string, artifact: string | undefined): string {
  return artifact ?? remote.slice(remote.lastIndexOf('/') + 1);
}
