// A second floor for the linter benchmark: read every file like read-only.ts, and parse the ones a
// linter must parse as YAML (compose files by name, Kubernetes manifests by content) with the
// linter's own positional reader (src/lint/yaml.ts: js-yaml plus the position tree). Nothing is
// checked: this is what envless pays before its first rule runs.
//
//   node bench/lint/yaml-only.ts DIR   ->   {"files":N,"bytes":N,"parsed":N,"documents":N}
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseYamlStream } from '../../src/lint/yaml.ts';

const COMPOSE = /^(?:compose(?:\.[^/]+)?|docker-compose[^/]*)\.ya?ml$/i;
const YAML = /\.ya?ml$/i;
const MANIFEST = /^apiVersion:\s*\S[\s\S]*^kind:\s*\S|^kind:\s*\S[\s\S]*^apiVersion:\s*\S/m;

function main(root: string): void {
  let files = 0;
  let bytes = 0;
  let parsed = 0;
  let documents = 0;
  const stack = [root];
  while (stack.length > 0) {
    const dir = stack.pop()!;
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        stack.push(path);
        continue;
      }
      if (!entry.isFile()) continue;
      const text = readFileSync(path, 'utf8');
      files++;
      bytes += Buffer.byteLength(text);
      if (!YAML.test(entry.name) || (!COMPOSE.test(entry.name) && !MANIFEST.test(text))) continue;
      parsed++;
      documents += parseYamlStream(text).documents.length;
    }
  }
  process.stdout.write(JSON.stringify({ files, bytes, parsed, documents }) + '\n');
}

const root = process.argv[2];
if (!root) {
  process.stderr.write('usage: node bench/lint/yaml-only.ts DIR\n');
  process.exit(2);
}
main(root);
