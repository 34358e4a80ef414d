// Properties of the compose fix on generated files: no value is ever lost (each converted value is in
// its secret file exactly as the container saw it, everything else is where it was), the result
// reads as valid YAML, lints clean and is a fixed point.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { compose, lintFindings, project, read } from './helpers.ts';

const NAMES = [
  'DB_PASSWORD',
  'API_TOKEN',
  'CLIENT_SECRET',
  'LOG_LEVEL',
  'GF_SECURITY_ADMIN_PASSWORD',
  'PORT',
];
// Characters that stress YAML quoting and compose interpolation.
const VALUE = fc.string({ maxLength: 16, unit: fc.constantFrom(...'aZ9 #:"\'\\-{}[],&*!|>%@`=$\t\u00e9') });

interface Variable {
  readonly name: string;
  readonly value: string;
}

const service: fc.Arbitrary<GeneratedService> = fc.record({
  list: fc.boolean(),
  single: fc.boolean(),
  common: fc.boolean(),
  variables: fc.uniqueArray(fc.record({ name: fc.constantFrom(...NAMES), value: VALUE }), {
    selector: (v) => v.name,
    minLength: 1,
    maxLength: 4,
  }),
});

interface GeneratedService {
  readonly list: boolean;
  readonly single: boolean;
  readonly common: boolean;
  readonly variables: readonly Variable[];
}

/** Shared by every service that merges `*common` (and does not set the variable itself). */
const COMMON: Variable = { name: 'SHARED_SECRET', value: 'shared-$-value' };

/**
 * The compose text: `$` escaped as `$$` so compose hands the container exactly `value`; double or
 * single quotes; some services merge an anchored map that sets SHARED_SECRET.
 */
function composeText(services: readonly GeneratedService[]): string {
  const escape = (value: string): string => value.replaceAll('$', () => '$$');
  const quote = (text: string, single: boolean): string =>
    single ? `'${text.replaceAll("'", "''")}'` : JSON.stringify(text);
  let text = `x-common: &common\n  environment:\n    ${COMMON.name}: ${JSON.stringify(escape(COMMON.value))}\n`;
  text += 'services:\n';
  services.forEach((s, i) => {
    text += `  s${i}:\n${s.common ? '    <<: *common\n' : ''}    image: app\n`;
    // An own environment hides the merged one (merge keys are shallow).
    if (s.common && i % 2 === 1) return;
    text += '    environment:\n';
    for (const { name, value } of s.variables) {
      text += s.list
        ? `      - ${quote(`${name}=${escape(value)}`, s.single)}\n`
        : `      ${name}: ${quote(escape(value), s.single)}\n`;
    }
  });
  return text;
}

/** The variables a generated service ends up with. */
function variablesOf(s: GeneratedService, i: number): readonly Variable[] {
  return s.common && i % 2 === 1 ? [COMMON] : s.variables;
}

/** What compose gives a service: its environment after `$$` unescaping. */
function environmentOf(doc: unknown, service: string): Map<string, string | null> {
  const env =
    (doc as { services: Record<string, { environment?: unknown }> }).services[service]!.environment ?? {};
  const entries: [string, string | null][] = Array.isArray(env)
    ? (env as string[]).map((item) => {
        const eq = item.indexOf('=');
        return eq < 0 ? [item, null] : [item.slice(0, eq), item.slice(eq + 1)];
      })
    : Object.entries(env as Record<string, string | null>).map(([k, v]) => [
        k,
        v === null ? null : String(v),
      ]);
  return new Map(entries.map(([k, v]) => [k, v === null ? null : v.replaceAll('$$', '$')]));
}

describe('compose fix properties', () => {
  it('never loses a value, lints clean and is idempotent', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(service, { minLength: 1, maxLength: 3 }), async (services) => {
        const dir = project({ 'compose.yaml': composeText(services) });
        const run = await compose(dir, 'fix');
        expect(run.status).toBe(0);
        const doc = parse(read(dir, 'compose.yaml'), { merge: true }) as {
          secrets?: Record<string, { file?: string }>;
        };
        services.forEach((s, i) => {
          const env = environmentOf(doc, `s${i}`);
          for (const { name, value } of variablesOf(s, i)) {
            if (env.has(name)) {
              expect(env.get(name)).toBe(value); // left as it was
              continue;
            }
            const fileVariable = name.startsWith('GF_') ? `${name}__FILE` : `${name}_FILE`;
            const path = env.get(fileVariable);
            expect(path).toMatch(/^\/run\/secrets\/[a-z0-9_]+$/);
            const secret = path!.slice('/run/secrets/'.length);
            const file = doc.secrets?.[secret]?.file;
            expect(file).toBeDefined();
            expect(readFileSync(join(dir, file!), 'utf8')).toBe(value);
          }
        });
        expect(lintFindings(dir).filter((f) => f.ruleId.startsWith('compose/'))).toEqual([]);
        const again = await compose(dir, 'fix');
        expect(again.stdout).toBe('envless: nothing to fix\n');
        // The report names variables and files, never a value.
        services.forEach((s, i) => {
          for (const { value } of variablesOf(s, i))
            if (value.length >= 8) expect(run.stdout).not.toContain(value);
        });
      }),
      { numRuns: 40 },
    );
  });
});
