// The floor for the linter benchmark: walk a directory and read every file as UTF-8 text, nothing
// else. Run as its own process (start-up included, like the tools it is compared with).
//
//   node bench/lint/read-only.ts DIR   ->   {"files":N,"bytes":N}
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export function readTree(root: string): { files: number; bytes: number } {
  let files = 0;
  let bytes = 0;
  const stack = [root];
  while (stack.length > 0) {
    const dir = stack.pop()!;
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) stack.push(path);
      else if (entry.isFile()) {
        const text = readFileSync(path, 'utf8');
        files++;
        bytes += Buffer.byteLength(text);
      }
    }
  }
  return { files, bytes };
}

if (import.meta.main) {
  const root = process.argv[2];
  if (!root) {
    process.stderr.write('usage: node bench/lint/read-only.ts DIR\n');
    process.exit(2);
  }
  process.stdout.write(JSON.stringify(readTree(root)) + '\n');
}
