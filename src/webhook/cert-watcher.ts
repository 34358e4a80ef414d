// Reloads the serving certificate when its files change, without a restart. Kubernetes updates a
// mounted Secret by writing a new timestamped directory and renaming a `..data` symlink over the
// old one: the file paths stay the same while their targets change, so watching the files' inodes
// misses updates. We watch the directories instead, wait for a quiet moment (a swap is several
// events, and cert and key may be written one after the other), re-read both files and apply
// them only if they parse, belong together and are valid now (an expired or not yet valid
// certificate would fail every handshake); otherwise the pair in service stays, and the next
// change or poll tries again.
// A slow poll backs up fs.watch, which some volume types (NFS, some overlays) never fire.
import { EventEmitter } from 'node:events';
import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { inspectKeyPair, type KeyPairFacts, type PemKeyPair } from './certs.ts';

export interface CertificateFiles {
  readonly certFile: string;
  readonly keyFile: string;
}

/** Reads the certificate, then the key (in that order, so a missing file is named predictably). */
export async function readKeyPair(files: CertificateFiles): Promise<PemKeyPair> {
  const cert = await readFile(files.certFile, 'utf8');
  const key = await readFile(files.keyFile, 'utf8');
  return { cert, key };
}

export type ReloadResult = 'reloaded' | 'unchanged' | 'rejected';

export interface CertificateWatcherOptions {
  readonly files: CertificateFiles;
  /** The pair in service when watching starts. */
  readonly current: PemKeyPair;
  /** Puts a checked pair in service; may throw (the TLS layer refused it), which rejects it. */
  readonly apply: (pair: PemKeyPair, facts: KeyPairFacts) => void;
  readonly debounceMs?: number;
  /** 0 turns polling off. */
  readonly pollIntervalMs?: number;
}

interface WatcherEvents {
  reloaded: [KeyPairFacts];
  rejected: [Error];
  /** fs.watch failed on a directory (removed, or unsupported): polling still runs. */
  watchError: [Error];
}

export class CertificateWatcher extends EventEmitter<WatcherEvents> {
  private readonly options: CertificateWatcherOptions;
  private current: PemKeyPair;
  private watchers: FSWatcher[] = [];
  private debounce: NodeJS.Timeout | undefined;
  private poll: NodeJS.Timeout | undefined;
  private running: Promise<ReloadResult> | undefined;
  private again = false;
  private closed = false;

  constructor(options: CertificateWatcherOptions) {
    super();
    this.options = options;
    this.current = options.current;
  }

  start(): void {
    const directories = new Set([dirname(this.options.files.certFile), dirname(this.options.files.keyFile)]);
    for (const directory of directories) {
      try {
        const watcher = watch(directory, { persistent: false }, () => this.schedule());
        watcher.on('error', (error) => this.emit('watchError', error));
        this.watchers.push(watcher);
      } catch (error) {
        this.emit('watchError', error as Error);
      }
    }
    const interval = this.options.pollIntervalMs ?? 60_000;
    if (interval > 0) {
      this.poll = setInterval(() => void this.reload(), interval);
      this.poll.unref();
    }
  }

  close(): void {
    this.closed = true;
    for (const watcher of this.watchers) watcher.close();
    this.watchers = [];
    clearTimeout(this.debounce);
    clearInterval(this.poll);
  }

  private schedule(): void {
    if (this.closed) return;
    clearTimeout(this.debounce);
    this.debounce = setTimeout(() => void this.reload(), this.options.debounceMs ?? 250);
    this.debounce.unref();
  }

  /** Re-reads the files now; concurrent calls share one read and queue one more after it. */
  reload(): Promise<ReloadResult> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = this.readAndApply().finally(() => {
      this.running = undefined;
      if (this.again && !this.closed) {
        this.again = false;
        void this.reload();
      }
    });
    return this.running;
  }

  private async readAndApply(): Promise<ReloadResult> {
    if (this.closed) return 'unchanged';
    let pair: PemKeyPair;
    try {
      pair = await readKeyPair(this.options.files);
    } catch (error) {
      return this.reject(
        new Error(
          `cannot read the certificate files: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
        ),
      );
    }
    if (pair.cert === this.current.cert && pair.key === this.current.key) return 'unchanged';
    try {
      const facts = inspectKeyPair(pair);
      const now = Date.now();
      if (facts.notAfter.getTime() <= now) {
        throw new Error(`the new certificate expired at ${facts.notAfter.toISOString()}`);
      }
      if (facts.notBefore.getTime() > now) {
        throw new Error(`the new certificate is not valid before ${facts.notBefore.toISOString()}`);
      }
      this.options.apply(pair, facts);
      this.current = pair;
      this.emit('reloaded', facts);
      return 'reloaded';
    } catch (error) {
      return this.reject(error as Error);
    }
  }

  private reject(error: Error): ReloadResult {
    this.emit('rejected', error);
    return 'rejected';
  }
}
