import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { maskSecret, maskWithin } from '../../src/detect/index.ts';
import { fingerprintFindings } from '../../src/lint/fingerprint.ts';
import { escapeData, escapeProperty } from '../../src/lint/format/github.ts';
import {
  countBySeverity,
  formatFindings,
  OUTPUT_FORMATS,
  type LintSummary,
} from '../../src/lint/format/index.ts';
import { RULES, ruleHelpUri, ruleMeta } from '../../src/lint/rules.ts';
import type { Finding, RawFinding, Severity } from '../../src/lint/types.ts';
import { validateSarif } from '../sarif-schema.ts';

const OPTS = { color: false, toolVersion: '1.2.3' };

const ERROR: Finding = {
  ruleId: 'dockerfile/secret-env',
  severity: 'error',
  file: 'app/Dockerfile',
  line: 3,
  column: 5,
  key: 'API_TOKEN',
  message: 'ENV sets a secret: API_TOKEN',
  value: 'ghp***',
  fix: 'use a secret file',
  fingerprint: '0123456789abcdef',
};
const WARNING: Finding = {
  ruleId: 'compose/secret-env',
  severity: 'warning',
  file: 'compose.yaml',
  line: 10,
  column: 7,
  endLine: 10,
  endColumn: 18,
  key: 'DB_PASSWORD',
  message: 'DB_PASSWORD is passed through environment:',
  fix: 'move it to a compose secret',
  fingerprint: 'fedcba9876543210',
};
const INFO: Finding = {
  ruleId: 'k8s/secret-manifest',
  severity: 'info',
  file: 'deploy\\my app\\secret.yaml',
  line: 1,
  column: 1,
  message: 'A Secret manifest with real data is committed',
  fingerprint: 'aaaaaaaaaaaaaaaa',
};

function summaryOf(findings: readonly Finding[], extra: Partial<LintSummary> = {}): LintSummary {
  return {
    filesChecked: 12,
    suppressed: 0,
    baselined: 0,
    parseErrors: 0,
    ...countBySeverity(findings),
    ...extra,
  };
}

/** What the pipeline (src/lint/run.ts) does to a checker's RawFinding: mask, fingerprint, grade. */
function finalize(file: string, raw: readonly RawFinding[]): Finding[] {
  const fingerprints = fingerprintFindings(raw.map((r) => ({ ...r, file })));
  return raw.map((r, i) => ({
    ruleId: r.ruleId,
    severity: r.severity ?? ruleMeta(r.ruleId).severity,
    file,
    line: r.line,
    column: r.column,
    ...(r.key === undefined ? {} : { key: r.key }),
    message: r.secret ? maskWithin(r.message, r.secret) : r.message,
    ...(r.secret ? { value: maskSecret(r.secret) } : {}),
    fix: r.fix ?? ruleMeta(r.ruleId).fix,
    fingerprint: fingerprints[i]!,
  }));
}

describe('text format', () => {
  it('prints one block per finding and a summary line', () => {
    const findings = [ERROR, WARNING];
    expect(formatFindings('text', findings, summaryOf(findings), OPTS)).toBe(
      [
        'app/Dockerfile:3:5  error  dockerfile/secret-env  ENV sets a secret: API_TOKEN',
        '  value: ghp***',
        '  fix: use a secret file',
        '',
        'compose.yaml:10:7  warning  compose/secret-env  DB_PASSWORD is passed through environment:',
        '  fix: move it to a compose secret',
        '',
        '1 error, 1 warning in 12 files',
        '',
      ].join('\n'),
    );
  });

  it('says so when nothing was found, with singular and plural file counts', () => {
    expect(formatFindings('text', [], summaryOf([], { filesChecked: 3 }), OPTS)).toBe(
      'no secrets in environment variables found in 3 files\n',
    );
    expect(formatFindings('text', [], summaryOf([], { filesChecked: 1 }), OPTS)).toBe(
      'no secrets in environment variables found in 1 file\n',
    );
  });

  it('pluralises counts and mentions suppressed and baselined findings', () => {
    const findings = [ERROR, ERROR, ERROR, WARNING, INFO];
    const out = formatFindings('text', findings, summaryOf(findings, { suppressed: 2, baselined: 4 }), OPTS);
    expect(out.trimEnd().split('\n').at(-1)).toBe(
      '3 errors, 1 warning, 1 info in 12 files (2 suppressed, 4 baselined)',
    );
  });

  it('colours severities and dims details only when asked', () => {
    const plain = formatFindings('text', [ERROR, WARNING, INFO], summaryOf([ERROR, WARNING, INFO]), OPTS);
    expect(plain).not.toContain('\u001b[');
    const coloured = formatFindings('text', [ERROR, WARNING, INFO], summaryOf([ERROR, WARNING, INFO]), {
      ...OPTS,
      color: true,
    });
    expect(coloured).toContain('\u001b[31merror\u001b[0m');
    expect(coloured).toContain('\u001b[33mwarning\u001b[0m');
    expect(coloured).toContain('\u001b[34minfo\u001b[0m');
    expect(coloured).toContain('\u001b[2m  value: ghp***\u001b[0m');
  });

  it('does not let control characters in a file name reach the terminal', () => {
    const finding = { ...ERROR, file: 'evil\u001b[2J.env', message: 'line1\nline2' };
    const out = formatFindings('text', [finding], summaryOf([finding]), OPTS);
    expect(out).not.toContain('\u001b');
    expect(out).toContain('evil\\u001b[2J.env:3:5');
    expect(out).toContain('line1\\nline2');
  });
});

describe('json format', () => {
  it('emits findings with a fixed key order and the summary', () => {
    const findings = [ERROR, WARNING, INFO];
    const out = formatFindings('json', findings, summaryOf(findings, { parseErrors: 1 }), OPTS);
    expect(out.startsWith('{\n  "findings": [\n')).toBe(true);
    expect(out.endsWith('}\n')).toBe(true);
    const parsed = JSON.parse(out) as {
      findings: Record<string, unknown>[];
      summary: Record<string, unknown>;
    };
    expect(Object.keys(parsed)).toEqual(['findings', 'summary']);
    expect(Object.keys(parsed.findings[0]!)).toEqual([
      'ruleId',
      'severity',
      'file',
      'line',
      'column',
      'key',
      'message',
      'value',
      'fix',
      'fingerprint',
    ]);
    expect(Object.keys(parsed.findings[1]!)).toEqual([
      'ruleId',
      'severity',
      'file',
      'line',
      'column',
      'endLine',
      'endColumn',
      'key',
      'message',
      'fix',
      'fingerprint',
    ]);
    expect(Object.keys(parsed.findings[2]!)).toEqual([
      'ruleId',
      'severity',
      'file',
      'line',
      'column',
      'message',
      'fingerprint',
    ]);
    expect(parsed.findings[0]).toMatchObject({
      ruleId: 'dockerfile/secret-env',
      line: 3,
      column: 5,
      value: 'ghp***',
    });
    expect(parsed.summary).toEqual({
      filesChecked: 12,
      errors: 1,
      warnings: 1,
      infos: 1,
      suppressed: 0,
      baselined: 0,
      parseErrors: 1,
    });
    expect(Object.keys(parsed.summary)).toEqual([
      'filesChecked',
      'errors',
      'warnings',
      'infos',
      'suppressed',
      'baselined',
      'parseErrors',
    ]);
  });

  it('emits an empty list when nothing was found', () => {
    const parsed = JSON.parse(formatFindings('json', [], summaryOf([]), OPTS)) as { findings: unknown[] };
    expect(parsed.findings).toEqual([]);
  });
});

describe('sarif format', () => {
  const validate = validateSarif;

  function sarif(findings: readonly Finding[]) {
    const out = formatFindings('sarif', findings, summaryOf(findings), OPTS);
    return { out, log: JSON.parse(out) as SarifLog };
  }

  it('validates against the SARIF 2.1.0 schema without results', () => {
    const { log } = sarif([]);
    expect(validate(log), JSON.stringify(validate.errors, null, 2)).toBe(true);
    expect(log.runs[0]!.results).toEqual([]);
  });

  it('validates against the SARIF 2.1.0 schema with results', () => {
    const { log } = sarif([ERROR, WARNING, INFO]);
    expect(validate(log), JSON.stringify(validate.errors, null, 2)).toBe(true);
  });

  it('uses a validator that does reject invalid SARIF', () => {
    const { log } = sarif([ERROR]);
    const broken = structuredClone(log) as unknown as { runs: { results: { level: string }[] }[] };
    broken.runs[0]!.results[0]!.level = 'info';
    expect(validate(broken)).toBe(false);
  });

  it('describes the tool and every rule from the catalogue', () => {
    const { log } = sarif([]);
    expect(log.$schema).toBe('https://json.schemastore.org/sarif-2.1.0.json');
    expect(log.version).toBe('2.1.0');
    expect(log.runs).toHaveLength(1);
    const driver = log.runs[0]!.tool.driver;
    expect(driver).toMatchObject({ name: 'envless', version: '1.2.3', semanticVersion: '1.2.3' });
    expect(driver.informationUri).toMatch(/^https:\/\//);
    expect(driver.rules.map((rule) => rule.id)).toEqual(RULES.map((rule) => rule.id));
    const secretEnv = driver.rules.find((rule) => rule.id === 'dockerfile/secret-env')!;
    expect(secretEnv).toMatchObject({
      name: 'DockerfileSecretEnv',
      shortDescription: { text: ruleMeta('dockerfile/secret-env').description },
      helpUri: ruleHelpUri('dockerfile/secret-env'),
      defaultConfiguration: { level: 'error' },
    });
    expect(secretEnv.help.markdown).toContain(ruleMeta('dockerfile/secret-env').fix);
  });

  it('reports results with rule index, level, location and fingerprint', () => {
    const { log } = sarif([ERROR, WARNING, INFO]);
    const rules = log.runs[0]!.tool.driver.rules;
    const [error, warning, info] = log.runs[0]!.results;
    expect(rules[error!.ruleIndex]!.id).toBe(error!.ruleId);
    expect(error).toMatchObject({
      ruleId: 'dockerfile/secret-env',
      level: 'error',
      message: { text: 'ENV sets a secret: API_TOKEN' },
      locations: [
        {
          physicalLocation: {
            artifactLocation: { uri: 'app/Dockerfile', uriBaseId: '%SRCROOT%' },
            region: { startLine: 3, startColumn: 5 },
          },
        },
      ],
      partialFingerprints: { 'envless/v1': '0123456789abcdef' },
    });
    expect(warning!.level).toBe('warning');
    expect(warning!.locations[0]!.physicalLocation.region).toEqual({
      startLine: 10,
      startColumn: 7,
      endLine: 10,
      endColumn: 18,
    });
    expect(info!.level).toBe('note');
    // Backslashes become forward slashes; a space is percent-encoded so the URI stays valid.
    expect(info!.locations[0]!.physicalLocation.artifactLocation.uri).toBe('deploy/my%20app/secret.yaml');
  });

  it('turns an absolute path into a file URI and stays valid', () => {
    const finding = { ...ERROR, file: '/srv/repo/Dockerfile' };
    const { log } = sarif([finding]);
    expect(log.runs[0]!.results[0]!.locations[0]!.physicalLocation.artifactLocation).toEqual({
      uri: 'file:///srv/repo/Dockerfile',
    });
    expect(validate(log)).toBe(true);
  });
});

describe('github format', () => {
  it('emits one workflow command per finding', () => {
    const out = formatFindings('github', [ERROR, WARNING, INFO], summaryOf([]), OPTS);
    expect(out.split('\n')).toEqual([
      '::error file=app/Dockerfile,line=3,col=5,title=dockerfile/secret-env::ENV sets a secret: API_TOKEN',
      '::warning file=compose.yaml,line=10,col=7,title=compose/secret-env::DB_PASSWORD is passed through environment:',
      '::notice file=deploy/my app/secret.yaml,line=1,col=1,title=k8s/secret-manifest::A Secret manifest with real data is committed',
      '',
    ]);
  });

  it('emits nothing when nothing was found', () => {
    expect(formatFindings('github', [], summaryOf([]), OPTS)).toBe('');
  });

  it('escapes data and properties the way the Actions toolkit does', () => {
    expect(escapeData('100% done\r\nnext: a,b')).toBe('100%25 done%0D%0Anext: a,b');
    expect(escapeProperty('a:b,c%\n')).toBe('a%3Ab%2Cc%25%0A');
    const finding = { ...ERROR, file: 'odd,name:x.env', message: 'two\nlines 50%' };
    expect(formatFindings('github', [finding], summaryOf([]), OPTS)).toBe(
      '::error file=odd%2Cname%3Ax.env,line=3,col=5,title=dockerfile/secret-env::two%0Alines 50%25\n',
    );
  });
});

describe('secrets never reach the output', () => {
  const secretArb = fc.stringMatching(/^[A-Za-z0-9_\-+/]{12,48}$/);
  const severities: Severity[] = ['error', 'warning', 'info'];

  it('holds for every format', () => {
    fc.assert(
      fc.property(secretArb, fc.constantFrom(...severities), (secret, severity) => {
        const findings = finalize('.env', [
          {
            ruleId: 'dotenv/example-real-value',
            line: 2,
            column: 1,
            key: 'API_KEY',
            // A careless checker that puts the value into its message is still masked by the pipeline.
            message: `API_KEY=${secret} looks real`,
            secret,
            severity,
          },
        ]);
        for (const format of OUTPUT_FORMATS) {
          const out = formatFindings(format, findings, summaryOf(findings), {
            color: true,
            toolVersion: '0.0.0',
          });
          expect(out).not.toContain(secret);
          expect(out).not.toContain(escapeData(secret));
        }
      }),
      { numRuns: 50 },
    );
  });

  it('holds for a realistic token', () => {
    const token = 'ghp_' + 'A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8';
    const findings = finalize('Dockerfile', [
      {
        ruleId: 'dockerfile/secret-value',
        line: 1,
        column: 7,
        message: 'a GitHub token',
        secret: token,
        anchor: 'LABEL',
      },
    ]);
    expect(findings[0]!.value).toBe('ghp***');
    for (const format of OUTPUT_FORMATS) {
      expect(formatFindings(format, findings, summaryOf(findings), OPTS)).not.toContain(token);
    }
  });
});

interface SarifLog {
  $schema: string;
  version: string;
  runs: {
    tool: {
      driver: {
        name: string;
        informationUri: string;
        version: string;
        semanticVersion: string;
        rules: {
          id: string;
          name: string;
          helpUri: string;
          help: { text: string; markdown: string };
          defaultConfiguration: { level: string };
        }[];
      };
    };
    results: {
      ruleId: string;
      ruleIndex: number;
      level: string;
      message: { text: string };
      locations: {
        physicalLocation: {
          artifactLocation: { uri: string; uriBaseId?: string };
          region: Record<string, number>;
        };
      }[];
      partialFingerprints: Record<string, string>;
    }[];
  }[];
}
