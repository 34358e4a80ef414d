// The pure parts of the cluster-test support (no control plane needed): loopback checks and the
// Prometheus histogram arithmetic that bench/apiserver-latency.ts reports.
import { describe, expect, it } from 'vitest';
import {
  assertLoopbackConfiguration,
  assertLoopbackUrl,
  histogramQuantile,
  isLoopbackHost,
  readCounter,
  readHistogram,
} from './support.ts';

const METRICS = `# HELP x_seconds test
# TYPE x_seconds histogram
x_seconds_bucket{name="a",operation="CREATE",rejected="false",le="0.005"} 6
x_seconds_bucket{name="a",operation="CREATE",rejected="false",le="0.025"} 9
x_seconds_bucket{name="a",operation="CREATE",rejected="false",le="+Inf"} 10
x_seconds_sum{name="a",operation="CREATE",rejected="false"} 0.1
x_seconds_count{name="a",operation="CREATE",rejected="false"} 10
x_seconds_bucket{name="a",operation="CREATE",rejected="true",le="0.005"} 0
x_seconds_bucket{name="a",operation="CREATE",rejected="true",le="0.025"} 0
x_seconds_bucket{name="a",operation="CREATE",rejected="true",le="+Inf"} 0
x_seconds_sum{name="a",operation="CREATE",rejected="true"} 0
x_seconds_count{name="a",operation="CREATE",rejected="true"} 0
x_seconds_bucket{name="b",operation="CREATE",rejected="false",le="0.005"} 100
x_seconds_bucket{name="b",operation="CREATE",rejected="false",le="0.025"} 100
x_seconds_bucket{name="b",operation="CREATE",rejected="false",le="+Inf"} 100
x_seconds_sum{name="b",operation="CREATE",rejected="false"} 0.2
x_seconds_count{name="b",operation="CREATE",rejected="false"} 100
hits_total{name="a",code="200"} 3
hits_total{name="a",code="403"} 2
hits_total{name="b",code="200"} 7
`;

describe('Prometheus text', () => {
  it('sums the series of one webhook by bucket', () => {
    expect(readHistogram(METRICS, 'x_seconds', { name: 'a' })).toEqual({
      buckets: [
        { le: 0.005, count: 6 },
        { le: 0.025, count: 9 },
        { le: Infinity, count: 10 },
      ],
      sum: 0.1,
      count: 10,
    });
    expect(readCounter(METRICS, 'hits_total', { name: 'a' })).toBe(5);
    expect(readCounter(METRICS, 'hits_total')).toBe(12);
  });

  it('estimates quantiles like histogram_quantile and reports the bucket bound', () => {
    const histogram = readHistogram(METRICS, 'x_seconds', { name: 'a' });
    const p50 = histogramQuantile(histogram, 0.5);
    expect(p50.bound).toBe(0.005);
    expect(p50.estimate).toBeCloseTo(0.005 * (5 / 6));
    const p80 = histogramQuantile(histogram, 0.8);
    expect(p80.bound).toBe(0.025);
    expect(p80.estimate).toBeCloseTo(0.005 + 0.02 * (2 / 3));
    // In the +Inf bucket, the highest finite bound is all that is known.
    expect(histogramQuantile(histogram, 0.99)).toEqual({ estimate: 0.025, bound: Infinity });
    expect(histogramQuantile({ buckets: [], sum: 0, count: 0 }, 0.5).estimate).toBeNaN();
  });
});

describe('loopback checks', () => {
  it('accepts 127.0.0.0/8 and ::1 only, never names', () => {
    expect(isLoopbackHost('127.0.0.1')).toBe(true);
    expect(isLoopbackHost('127.1.2.3')).toBe(true);
    expect(isLoopbackHost('[::1]')).toBe(true);
    expect(isLoopbackHost('localhost')).toBe(false);
    expect(isLoopbackHost('10.0.0.1')).toBe(false);
    expect(() => assertLoopbackUrl('https://127.0.0.1:8443/mutate', 'w')).not.toThrow();
    expect(() => assertLoopbackUrl('https://envless.envless.svc/mutate', 'w')).toThrow(/loopback/);
  });

  it('refuses a configuration that names a Service', () => {
    const service = { webhooks: [{ name: 'w', clientConfig: { service: { name: 'envless' } } }] };
    expect(() => assertLoopbackConfiguration(service)).toThrow(/names a Service/);
    const remote = { webhooks: [{ name: 'w', clientConfig: { url: 'https://192.0.2.1/mutate' } }] };
    expect(() => assertLoopbackConfiguration(remote)).toThrow(/loopback/);
  });
});
