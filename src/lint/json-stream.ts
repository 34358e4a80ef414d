// A stream of JSON objects in one file (`{...}\n{...}`), as `kubectl apply -f` accepts it (its
// YAMLOrJSONDecoder reads one value after another). YAML parsers refuse such a file: it is split
// here into its top-level values, each parsed on its own.

export interface JsonChunk {
  readonly start: number;
  readonly end: number;
}

function isJsonSpace(code: number): boolean {
  return code === 0x20 || code === 0x0a || code === 0x0d || code === 0x09;
}

/**
 * The top-level objects and arrays of `text` when it holds two or more of them one after another
 * (only whitespace between them); undefined for anything else, a single JSON document included.
 */
export function jsonStreamChunks(text: string): JsonChunk[] | undefined {
  const chunks: JsonChunk[] = [];
  let i = 0;
  const n = text.length;
  for (;;) {
    while (i < n && isJsonSpace(text.charCodeAt(i))) i++;
    if (i >= n) break;
    const open = text[i];
    if (open !== '{' && open !== '[') return undefined;
    const start = i;
    let depth = 0;
    let inString = false;
    for (; i < n; i++) {
      const ch = text[i];
      if (inString) {
        if (ch === '\\') i++;
        else if (ch === '"') inString = false;
      } else if (ch === '"') inString = true;
      else if (ch === '{' || ch === '[') depth++;
      else if (ch === '}' || ch === ']') {
        depth--;
        if (depth === 0) {
          i++;
          break;
        }
      }
    }
    if (depth !== 0) return undefined;
    chunks.push({ start, end: i });
  }
  return chunks.length >= 2 ? chunks : undefined;
}

/**
 * The chunk's text preceded by the line breaks and spaces that put it at its place in `text`, so
 * that line and column numbers read from it are those of the whole file.
 */
export function chunkInPlace(text: string, chunk: JsonChunk): string {
  let lines = 0;
  let lineStart = 0;
  for (let at = text.indexOf('\n'); at >= 0 && at < chunk.start; at = text.indexOf('\n', at + 1)) {
    lines++;
    lineStart = at + 1;
  }
  return '\n'.repeat(lines) + ' '.repeat(chunk.start - lineStart) + text.slice(chunk.start, chunk.end);
}
