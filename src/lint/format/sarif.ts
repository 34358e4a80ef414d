// SARIF 2.1.0 for GitHub code scanning and other SARIF viewers. Rule metadata comes from the rule
// catalogue, so descriptions, help and documentation links match the text output and the docs.
// https://docs.oasis-open.org/sarif/sarif/v2.1.0/sarif-v2.1.0.html
import { pathToFileURL } from 'node:url';
import { normalizeFilePath } from '../fingerprint.ts';
import { RULES, ruleHelpUri, type RuleMeta } from '../rules.ts';
import type { Finding, Severity } from '../types.ts';
import type { FormatOptions } from './index.ts';

const SCHEMA = 'https://json.schemastore.org/sarif-2.1.0.json';
const INFORMATION_URI = 'https://github.com/envless/envless';
/** Key of our entry in `partialFingerprints`; versioned like the fingerprint recipe. */
export const FINGERPRINT_KEY = 'envless/v1';

type SarifLevel = 'error' | 'warning' | 'note';

const LEVEL: Record<Severity, SarifLevel> = { error: 'error', warning: 'warning', info: 'note' };
// GitHub code scanning ranks security alerts by this score (7.0-8.9 is "high").
const SECURITY_SEVERITY: Record<Severity, string> = { error: '7.5', warning: '5.0', info: '2.0' };

export function formatSarif(findings: readonly Finding[], opts: Pick<FormatOptions, 'toolVersion'>): string {
  const ruleIndex = new Map<string, number>(RULES.map((rule, index) => [rule.id, index]));
  const log = {
    $schema: SCHEMA,
    version: '2.1.0',
    runs: [
      {
        tool: {
          driver: {
            name: 'envless',
            informationUri: INFORMATION_URI,
            version: opts.toolVersion,
            semanticVersion: opts.toolVersion,
            rules: RULES.map(ruleDescriptor),
          },
        },
        results: findings.map((finding) => result(finding, ruleIndex.get(finding.ruleId))),
      },
    ],
  };
  return `${JSON.stringify(log, null, 2)}\n`;
}

function ruleDescriptor(rule: RuleMeta): object {
  const helpUri = ruleHelpUri(rule.id);
  return {
    id: rule.id,
    name: ruleName(rule.id),
    shortDescription: { text: rule.description },
    fullDescription: { text: `${rule.description}. ${rule.help}` },
    help: {
      text: `${rule.help}\n\nFix: ${rule.fix}.\n\n${helpUri}`,
      markdown: `**${rule.description}**\n\n${rule.help}\n\n**Fix:** ${rule.fix}.\n\n[Documentation](${helpUri})`,
    },
    helpUri,
    defaultConfiguration: { level: LEVEL[rule.severity] },
    properties: {
      tags: ['security', 'secrets', rule.kind],
      precision: 'high',
      'security-severity': SECURITY_SEVERITY[rule.severity],
    },
  };
}

/** `dockerfile/secret-env` -> `DockerfileSecretEnv`: SARIF's human-readable rule name. */
function ruleName(id: string): string {
  return id
    .split(/[^a-zA-Z0-9]+/)
    .filter(Boolean)
    .map((word) => word[0]!.toUpperCase() + word.slice(1))
    .join('');
}

function result(finding: Finding, ruleIndex: number | undefined): object {
  const region: Record<string, number> = { startLine: finding.line, startColumn: finding.column };
  if (finding.endLine !== undefined) region.endLine = finding.endLine;
  if (finding.endColumn !== undefined) region.endColumn = finding.endColumn;
  return {
    ruleId: finding.ruleId,
    ...(ruleIndex === undefined ? {} : { ruleIndex }),
    level: LEVEL[finding.severity],
    message: { text: finding.message },
    locations: [{ physicalLocation: { artifactLocation: artifactLocation(finding.file), region } }],
    partialFingerprints: { [FINGERPRINT_KEY]: finding.fingerprint },
  };
}

/**
 * Relative paths become URI references against %SRCROOT% (what code scanning expects); an absolute
 * path, which cannot be made relative without knowing the checkout root, becomes a file: URI.
 */
function artifactLocation(file: string): { uri: string; uriBaseId?: string } {
  const path = normalizeFilePath(file);
  // Already an absolute URI (`k8s://namespace/Kind/name` from `envless k8s audit`): as it is.
  if (/^[a-zA-Z][a-zA-Z0-9+.-]+:\/\//.test(path)) return { uri: path };
  if (path.startsWith('/') || /^[a-zA-Z]:\//.test(path)) return { uri: pathToFileURL(path).href };
  return { uri: path.split('/').map(encodeURIComponent).join('/'), uriBaseId: '%SRCROOT%' };
}
