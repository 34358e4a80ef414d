// Metrics exposition, settings resolution and certificate generation.
import { X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { CliError } from '../../src/cli/errors.ts';
import {
  createCertificateAuthority,
  createThrowAwayCertificates,
  inspectKeyPair,
  InvalidKeyPairError,
  issueServingCertificate,
} from '../../src/webhook/certs.ts';
import {
  DEFAULT_MAX_BODY_BYTES,
  parseWebhookConfig,
  resolveWebhookSettings,
} from '../../src/webhook/config.ts';
import { Counter, createWebhookMetrics, Gauge, Histogram } from '../../src/webhook/metrics.ts';

describe('metrics', () => {
  it('renders counters, gauges and cumulative histogram buckets', () => {
    const counter = new Counter('c_total', 'help "text"', 'outcome').init(['a']);
    counter.inc('b', 2);
    counter.inc('say "hi"\n');
    expect(counter.render()).toBe(
      '# HELP c_total help "text"\n# TYPE c_total counter\nc_total{outcome="a"} 0\nc_total{outcome="b"} 2\nc_total{outcome="say \\"hi\\"\\n"} 1\n',
    );
    const histogram = new Histogram('h_seconds', 'h', [0.001, 0.01]);
    histogram.observe(0.0005);
    histogram.observe(0.005);
    histogram.observe(3);
    expect(histogram.render()).toBe(
      '# HELP h_seconds h\n# TYPE h_seconds histogram\n' +
        'h_seconds_bucket{le="0.001"} 1\nh_seconds_bucket{le="0.01"} 2\nh_seconds_bucket{le="+Inf"} 3\n' +
        'h_seconds_sum 3.0055\nh_seconds_count 3\n',
    );
    const gauge = new Gauge('g', 'g');
    expect(gauge.render()).toBe('# HELP g g\n# TYPE g gauge\n');
    gauge.set(5);
    expect(gauge.render()).toContain('\ng 5\n');
  });

  it('declares every webhook metric with sub-millisecond duration buckets', () => {
    const text = createWebhookMetrics().registry.render();
    for (const name of [
      'envless_admission_requests_total',
      'envless_admission_duration_seconds',
      'envless_conversions_total',
      'envless_warnings_total',
      'envless_denials_total',
      'envless_engine_errors_total',
      'envless_certificate_expiry_timestamp_seconds',
    ]) {
      expect(text).toContain(`# TYPE ${name} `);
    }
    expect(text).toContain('envless_admission_duration_seconds_bucket{le="0.0001"} 0');
    expect(text).toContain('envless_admission_requests_total{outcome="error_allowed"} 0');
  });
});

describe('settings', () => {
  it('has the documented defaults', () => {
    expect(resolveWebhookSettings({}, {})).toEqual({
      host: '0.0.0.0',
      port: 8443,
      metricsHost: '0.0.0.0',
      metricsPort: 9090,
      mode: 'warn',
      onError: 'allow',
      maxBodyBytes: DEFAULT_MAX_BODY_BYTES,
      decisionCacheEntries: 1024,
      logLevel: 'info',
      shutdownDelayMs: 0,
      shutdownTimeoutMs: 25_000,
    });
    expect(DEFAULT_MAX_BODY_BYTES).toBe(6 * 1024 * 1024);
  });

  it('takes flags over environment variables over the config file', () => {
    const env = {
      ENVLESS_PORT: '9443',
      ENVLESS_MODE: 'enforce',
      ENVLESS_ON_ERROR: 'deny',
      ENVLESS_HOST: '127.0.0.1',
    };
    const file = { mode: 'warn' as const, onError: 'allow' as const, mountRoot: '/etc/secrets' };
    expect(resolveWebhookSettings({ port: '10443' }, env, file)).toMatchObject({
      port: 10443,
      host: '127.0.0.1',
      mode: 'enforce',
      onError: 'deny',
      mountRoot: '/etc/secrets',
    });
    expect(resolveWebhookSettings({}, {}, file)).toMatchObject({ mode: 'warn', onError: 'allow' });
    expect(
      resolveWebhookSettings(
        {},
        { ENVLESS_TLS_CERT_FILE: 'tls.crt', ENVLESS_TLS_KEY_FILE: 'tls.key', ENVLESS_METRICS_PORT: '0' },
      ),
    ).toMatchObject({ tlsCertFile: 'tls.crt', tlsKeyFile: 'tls.key', metricsPort: 0 });
    expect(resolveWebhookSettings({ 'decision-cache': '0' }, {}).decisionCacheEntries).toBe(0);
    expect(resolveWebhookSettings({}, { ENVLESS_DECISION_CACHE: '64' }).decisionCacheEntries).toBe(64);
    expect(resolveWebhookSettings({ 'shutdown-delay': '2.5', 'shutdown-timeout': '10s' }, {})).toMatchObject({
      shutdownDelayMs: 2500,
      shutdownTimeoutMs: 10_000,
    });
  });

  it.each([
    [{ port: '70000' }, {}, /--port must be a port number/],
    [{}, { ENVLESS_PORT: 'http' }, /ENVLESS_PORT must be a port number/],
    [{ mode: 'audit' }, {}, /--mode must be one of warn, enforce \(got "audit"\)/],
    [{}, { ENVLESS_ON_ERROR: 'ignore' }, /ENVLESS_ON_ERROR must be one of allow, deny/],
    [{ 'tls-cert-file': 'a.crt' }, {}, /both --tls-cert-file and --tls-key-file/],
    [{ 'mount-root': 'secrets' }, {}, /--mount-root must be an absolute path/],
    [{ 'max-body-bytes': '10' }, {}, /--max-body-bytes must be a number of bytes/],
    [{ 'shutdown-delay': '-1' }, {}, /--shutdown-delay must be a number of seconds/],
    [{ 'decision-cache': 'lots' }, {}, /--decision-cache must be a number of answers/],
    [{}, { ENVLESS_DECISION_CACHE: '-1' }, /ENVLESS_DECISION_CACHE must be a number of answers/],
  ])('rejects %j %j', (flags, env, message) => {
    expect(() => resolveWebhookSettings(flags, env)).toThrow(message);
  });

  it('parses and validates the config file with line numbers', () => {
    expect(
      parseWebhookConfig('mode: enforce\nonError: deny\nmountRoot: /run/app-secrets\n', 'w.yaml'),
    ).toEqual({
      mode: 'enforce',
      onError: 'deny',
      mountRoot: '/run/app-secrets',
    });
    expect(parseWebhookConfig('', 'w.yaml')).toEqual({});
    let error: unknown;
    try {
      parseWebhookConfig('mode: strict\nport: 1\nmountRoot: relative\n', 'w.yaml');
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(CliError);
    expect((error as CliError).code).toBe('ENVLESS_CONFIG_INVALID');
    const message = (error as CliError).message;
    expect(message).toContain('w.yaml:1: mode must be one of warn, enforce; got "strict"');
    expect(message).toContain('w.yaml:2: unknown setting "port"');
    expect(message).toContain('w.yaml:3: mountRoot must be an absolute path');
    expect(() => parseWebhookConfig('mode: [', 'w.yaml')).toThrow(/w.yaml:1:\d+: YAML syntax error/);
    expect(() => parseWebhookConfig('- a\n', 'w.yaml')).toThrow(/must be a mapping/);
  });
});

describe('certificates', () => {
  it('makes an ECDSA P-256 CA and a serving certificate for the given names that it signed', async () => {
    const ca = await createCertificateAuthority({ validityDays: 10 });
    const serving = await issueServingCertificate(ca, {
      hosts: ['envless.envless.svc', '10.0.0.1'],
      validityDays: 1,
    });
    const caCert = new X509Certificate(ca.cert);
    const leaf = new X509Certificate(serving.cert);
    expect(caCert.ca).toBe(true);
    expect(leaf.ca).toBe(false);
    expect(leaf.verify(caCert.publicKey)).toBe(true);
    expect(leaf.checkIssued(caCert)).toBe(true);
    expect(leaf.publicKey.asymmetricKeyDetails).toMatchObject({ namedCurve: 'prime256v1' });
    expect(leaf.subjectAltName).toBe('DNS:envless.envless.svc, IP Address:10.0.0.1');
    expect(leaf.checkHost('envless.envless.svc')).toBe('envless.envless.svc');
    const facts = inspectKeyPair(serving);
    expect(facts.notAfter.getTime() - Date.now()).toBeGreaterThan(23 * 3600_000);
    expect(facts.notAfter.getTime() - Date.now()).toBeLessThanOrEqual(24 * 3600_000);
    expect(facts.notBefore.getTime()).toBeLessThan(Date.now());
  });

  it('makes throw-away certificates for the loopback names', async () => {
    const { ca, serving } = await createThrowAwayCertificates();
    const leaf = new X509Certificate(serving.cert);
    expect(leaf.subjectAltName).toBe('DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1');
    expect(leaf.checkIssued(new X509Certificate(ca.cert))).toBe(true);
  });

  it('rejects pairs that do not parse or do not match, without echoing them', async () => {
    const ca = await createCertificateAuthority();
    const a = await issueServingCertificate(ca, { hosts: ['a'] });
    const b = await issueServingCertificate(ca, { hosts: ['b'] });
    expect(() => inspectKeyPair({ cert: a.cert, key: b.key })).toThrow(InvalidKeyPairError);
    expect(() => inspectKeyPair({ cert: a.cert, key: b.key })).toThrow(/does not match/);
    expect(() => inspectKeyPair({ cert: 'garbage', key: a.key })).toThrow(/not a PEM X.509 certificate/);
    expect(() => inspectKeyPair({ cert: a.cert, key: 'garbage' })).toThrow(/not a PEM private key/);
  });
});
