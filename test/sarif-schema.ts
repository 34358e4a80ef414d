// The official SARIF 2.1.0 schema (from @microsoft/jest-sarif) as an Ajv validator, for every test
// that checks a SARIF report. The schema is draft-04 (`id`, draft-04 `$schema`); Ajv 8 speaks
// draft-07, which reads it the same once the two draft-04 spellings are translated.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Ajv } from 'ajv';

function compile() {
  const require = createRequire(import.meta.url);
  const schemaPath = require.resolve('@microsoft/jest-sarif/lib/schemas/sarif-2.1.0-rtm.5.json');
  const {
    $schema: _draft,
    id,
    ...schema
  } = JSON.parse(readFileSync(schemaPath, 'utf8')) as Record<string, unknown> & { id: string };
  // Its language-tag pattern is not valid under the `u` flag Ajv uses by default.
  const ajv = new Ajv({ strict: false, allErrors: true, unicodeRegExp: false });
  ajv.addFormat('uri', (value: string) => URL.canParse(value));
  ajv.addFormat(
    'uri-reference',
    (value: string) => URL.canParse(value, 'file:///base/') && !/\s/.test(value),
  );
  ajv.addFormat('date-time', (value: string) => !Number.isNaN(Date.parse(value)));
  return ajv.compile({ ...schema, $id: id });
}

/** Validates a parsed SARIF log; `validateSarif.errors` says why one is not valid. */
export const validateSarif = compile();
