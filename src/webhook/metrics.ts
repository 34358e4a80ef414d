// Prometheus metrics in the text exposition format (version 0.0.4), written by hand: the webhook
// needs a few counters, one gauge and one histogram, and recording must cost nanoseconds on the
// admission path. A metric with labels keeps one series per label value, created on first use
// (or up front with `init`, so dashboards see zeros instead of missing series).
import { memoryUsage } from 'node:process';
import { ADMISSION_OUTCOMES } from './admission.ts';

interface Metric {
  render(): string;
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function formatNumber(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}

function header(name: string, help: string, type: string): string {
  return `# HELP ${name} ${help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}\n# TYPE ${name} ${type}\n`;
}

export class Counter implements Metric {
  readonly name: string;
  readonly help: string;
  readonly labelName: string | undefined;
  private readonly series = new Map<string, number>();

  constructor(name: string, help: string, labelName?: string) {
    this.name = name;
    this.help = help;
    this.labelName = labelName;
  }

  /** `label` is the value of the counter's one label (`''` for an unlabelled counter). */
  inc(label = '', amount = 1): void {
    this.series.set(label, (this.series.get(label) ?? 0) + amount);
  }

  init(labels: readonly string[]): this {
    for (const label of labels) if (!this.series.has(label)) this.series.set(label, 0);
    return this;
  }

  value(label = ''): number {
    return this.series.get(label) ?? 0;
  }

  render(): string {
    let text = header(this.name, this.help, 'counter');
    if (this.labelName === undefined) return `${text}${this.name} ${formatNumber(this.value())}\n`;
    for (const [label, value] of this.series) {
      text += `${this.name}{${this.labelName}="${escapeLabel(label)}"} ${formatNumber(value)}\n`;
    }
    return text;
  }
}

export class Gauge implements Metric {
  readonly name: string;
  readonly help: string;
  private current: number | undefined;
  private readonly collect: (() => number | undefined) | undefined;

  /** `collect`, when given, is read at every scrape instead of a set value. */
  constructor(name: string, help: string, collect?: () => number | undefined) {
    this.name = name;
    this.help = help;
    this.collect = collect;
  }

  set(value: number): void {
    this.current = value;
  }

  value(): number | undefined {
    return this.collect ? this.collect() : this.current;
  }

  render(): string {
    const value = this.value();
    // A gauge with no value yet (no certificate loaded) is left out rather than reported as 0,
    // which an expiry alert would read as "expired in 1970".
    if (value === undefined) return header(this.name, this.help, 'gauge');
    return `${header(this.name, this.help, 'gauge')}${this.name} ${formatNumber(value)}\n`;
  }
}

export class Histogram implements Metric {
  readonly name: string;
  readonly help: string;
  readonly buckets: readonly number[];
  private readonly counts: number[];
  private sum = 0;
  private count = 0;

  constructor(name: string, help: string, buckets: readonly number[]) {
    this.name = name;
    this.help = help;
    this.buckets = [...buckets].sort((a, b) => a - b);
    this.counts = this.buckets.map(() => 0);
  }

  observe(value: number): void {
    this.sum += value;
    this.count += 1;
    // Counts are stored per bucket (not cumulative) so an observation touches one slot.
    const buckets = this.buckets;
    for (let i = 0; i < buckets.length; i++) {
      if (value <= buckets[i]!) {
        this.counts[i]! += 1;
        return;
      }
    }
  }

  get observations(): number {
    return this.count;
  }

  render(): string {
    let text = header(this.name, this.help, 'histogram');
    let cumulative = 0;
    this.buckets.forEach((bound, i) => {
      cumulative += this.counts[i]!;
      text += `${this.name}_bucket{le="${formatNumber(bound)}"} ${cumulative}\n`;
    });
    text += `${this.name}_bucket{le="+Inf"} ${this.count}\n`;
    text += `${this.name}_sum ${formatNumber(this.sum)}\n${this.name}_count ${this.count}\n`;
    return text;
  }
}

export class Registry {
  private readonly metrics: Metric[] = [];

  register<T extends Metric>(metric: T): T {
    this.metrics.push(metric);
    return metric;
  }

  render(): string {
    return this.metrics.map((metric) => metric.render()).join('');
  }
}

export const EXPOSITION_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/**
 * From 50 µs (the engine's budget) to 0.5 s (far past any sane admission latency), with every
 * millisecond up to 5 to tell whether the webhook stays within a few milliseconds.
 */
export const DURATION_BUCKETS = [
  0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.003, 0.004, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
] as const;

export interface WebhookMetrics {
  readonly registry: Registry;
  readonly requests: Counter;
  readonly duration: Histogram;
  readonly conversions: Counter;
  readonly warnings: Counter;
  readonly denials: Counter;
  readonly engineErrors: Counter;
  readonly decisionCache: Counter;
  readonly certificateExpiry: Gauge;
  readonly certificateReloads: Counter;
}

export function createWebhookMetrics(): WebhookMetrics {
  const registry = new Registry();
  const requests = registry.register(
    new Counter(
      'envless_admission_requests_total',
      'Admission requests, by outcome (patched, unchanged, skipped, denied, error_allowed, error_denied, invalid; abandoned: the client left before the answer).',
      'outcome',
    ).init([...ADMISSION_OUTCOMES, 'invalid', 'abandoned']),
  );
  const duration = registry.register(
    new Histogram(
      'envless_admission_duration_seconds',
      'Time to answer an admission request on the webhook, from its first byte to the answer.',
      DURATION_BUCKETS,
    ),
  );
  const conversions = registry.register(
    new Counter('envless_conversions_total', 'Secret env var references converted into secret files.'),
  );
  const warnings = registry.register(new Counter('envless_warnings_total', 'Warnings returned to clients.'));
  const denials = registry.register(
    new Counter('envless_denials_total', 'Pods denied (enforce mode or --on-error deny).'),
  );
  const engineErrors = registry.register(
    new Counter(
      'envless_engine_errors_total',
      'Internal errors in the rewrite engine (answered per --on-error).',
    ),
  );
  const decisionCache = registry.register(
    new Counter(
      'envless_decision_cache_requests_total',
      'Pod CREATE answers looked up among those kept for replicas of one pod template, by result (hit, miss).',
      'result',
    ).init(['hit', 'miss']),
  );
  const certificateExpiry = registry.register(
    new Gauge(
      'envless_certificate_expiry_timestamp_seconds',
      'Expiry (notAfter) of the serving certificate, Unix time.',
    ),
  );
  const certificateReloads = registry.register(
    new Counter(
      'envless_certificate_reloads_total',
      'Serving certificate swaps (files changed on disk, or a renewed self-managed certificate), by result (success, failure).',
      'result',
    ).init(['success', 'failure']),
  );
  registry.register(
    new Gauge('process_resident_memory_bytes', 'Resident memory size in bytes.', () => memoryUsage.rss()),
  );
  return {
    registry,
    requests,
    duration,
    conversions,
    warnings,
    denials,
    engineErrors,
    decisionCache,
    certificateExpiry,
    certificateReloads,
  };
}
