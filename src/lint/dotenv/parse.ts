// dotenv files as docker compose and the dotenv libraries read them: `KEY=value`, `export KEY=v`,
// single quotes (literal), double quotes (escapes, may span lines), unquoted values ending at ` #`.

export interface DotenvEntry {
  readonly key: string;
  readonly value: string;
  /** 1-based position of the key. */
  readonly line: number;
  readonly column: number;
  /** 1-based position where the value starts (after `=`, at the opening quote if quoted). */
  readonly valueLine: number;
  readonly valueColumn: number;
}

const KEY = /^[ \t]*(?:export[ \t]+)?([A-Za-z_][A-Za-z0-9_.-]*)[ \t]*=/;

/** A line docker compose would refuse (the linter reads on; `secrets sync` must not). */
export interface DotenvProblem {
  readonly line: number;
  readonly message: string;
}

/**
 * Never throws: lines that are not assignments are skipped. What compose would refuse (a line that
 * is no assignment, a quote never closed) is added to `problems` when given.
 */
export function parseDotenv(text: string, problems?: DotenvProblem[]): DotenvEntry[] {
  const lines = text.replace(/\r\n?/g, '\n').split('\n');
  const entries: DotenvEntry[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const match = KEY.exec(line);
    if (!match) {
      const content = line.trim();
      if (content !== '' && !content.startsWith('#'))
        problems?.push({ line: i + 1, message: 'not a KEY=value line (a multi-line value needs quotes)' });
      continue;
    }
    const key = match[1]!;
    const column = line.indexOf(key, line.search(/\S/)) + 1;
    let rest = line.slice(match[0].length);
    const lead = rest.length - rest.trimStart().length;
    rest = rest.trimStart();
    const valueColumn = match[0].length + lead + 1;
    const startLine = i + 1;
    let value: string;
    const quote = rest[0];
    if (quote === "'" || quote === '"') {
      // Find the closing quote, possibly on a later line.
      let body = rest.slice(1);
      let end = findClose(body, quote);
      while (end < 0 && i + 1 < lines.length) {
        i++;
        body += `\n${lines[i]}`;
        end = findClose(body, quote);
      }
      if (end < 0)
        problems?.push({
          line: startLine,
          message: `the value's ${quote === '"' ? 'double' : 'single'} quote is never closed`,
        });
      const raw = end < 0 ? body : body.slice(0, end);
      value = quote === '"' ? unescapeDouble(raw) : raw;
    } else {
      const comment = rest.search(/[ \t]#/);
      value = (comment >= 0 ? rest.slice(0, comment) : rest).trim();
    }
    entries.push({ key, value, line: startLine, column, valueLine: startLine, valueColumn });
  }
  return entries;
}

function findClose(body: string, quote: string): number {
  for (let j = 0; j < body.length; j++) {
    if (quote === '"' && body[j] === '\\') {
      j++;
      continue;
    }
    // As compose-go: `\'` does not close a single-quoted value (and stays in it as written).
    if (body[j] === quote && !(quote === "'" && body[j - 1] === '\\')) return j;
  }
  return -1;
}

function unescapeDouble(raw: string): string {
  return raw.replace(/\\([nrt"\\$])/g, (_, ch: string) => ({ n: '\n', r: '\r', t: '\t' })[ch] ?? ch);
}
