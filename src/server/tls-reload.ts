// cert-manager (and kubelet, for a mounted Secret) replace the certificate and
// key files in place; serve must pick them up without a restart. New
// connections look at the files' state, at most once per interval, and a
// change makes a new secure context for the connections that follow.
import { statSync } from 'node:fs';
import { errorCode } from '../errors.js';
import type { TlsServerSettings } from './web-config.js';

const TLS_RELOAD_INTERVAL_MS = 5_000;

/** The files tls_server_config names (inline PEM never changes). */
export function tlsFiles(settings: TlsServerSettings): string[] {
  return [settings.cert_file, settings.key_file, settings.client_ca_file].filter(
    (file) => file !== undefined,
  );
}

/**
 * Inode, size and modification time of each file: a kubelet Secret update swaps a
 * symlink (new inode), an in-place write changes the time. A file that cannot be
 * read has its error code in place, so that it changes the signature too.
 */
export function fileSignature(files: readonly string[]): string {
  return files
    .map((file) => {
      try {
        const stat = statSync(file);
        return `${stat.ino}:${stat.size}:${stat.mtimeMs}`;
      } catch (err) {
        return errorCode(err) ?? 'unreadable';
      }
    })
    .join('|');
}

export interface TlsReloaderOptions {
  files: readonly string[];
  /** The signature of the files the current context was made from. */
  signature: string;
  /** Makes and installs a new secure context; throws when the files cannot be used. */
  reload: () => void;
  onReloaded: () => void;
  /** The files cannot be used (yet: a rotation may be half written); the old context stays. */
  onFailed: (err: unknown) => void;
  intervalMs?: number;
  now?: () => number;
}

export class TlsReloader {
  private lastCheck = -Infinity;
  private signature: string;

  constructor(private readonly options: TlsReloaderOptions) {
    this.signature = options.signature;
  }

  /** Called for every new connection, before its handshake; a few stat calls per interval at most. */
  check(): void {
    const now = (this.options.now ?? Date.now)();
    if (now - this.lastCheck < (this.options.intervalMs ?? TLS_RELOAD_INTERVAL_MS)) return;
    this.lastCheck = now;
    const current = fileSignature(this.options.files);
    if (current === this.signature) return;
    try {
      this.options.reload();
    } catch (err) {
      // The signature is kept: the next check tries again, once the rotation is complete.
      this.options.onFailed(err);
      return;
    }
    this.signature = current;
    this.options.onReloaded();
  }
}
