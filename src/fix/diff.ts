// A unified diff (as `diff -u` and `git apply` read it) of two texts, line by line, with Myers'
// O(ND) algorithm: the fixes change a few lines of a file, so D is small.

type Op = { readonly kind: ' ' | '-' | '+'; readonly line: string };

const NO_NEWLINE = '\\ No newline at end of file';

/** Lines of a text; the last one remembers whether a line break ended it. */
function splitLines(text: string): string[] {
  if (text === '') return [];
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  else lines[lines.length - 1] += '\u0000'; // marks "no newline at end of file"
  return lines;
}

/** The shortest edit script from `a` to `b`. */
function editScript(a: readonly string[], b: readonly string[]): Op[] {
  const n = a.length;
  const m = b.length;
  const max = n + m;
  const offset = max + 1;
  const v = new Int32Array(2 * max + 3);
  const trace: Int32Array[] = [];
  outer: for (let d = 0; d <= max; d++) {
    trace.push(v.slice());
    for (let k = -d; k <= d; k += 2) {
      let x =
        k === -d || (k !== d && v[offset + k - 1]! < v[offset + k + 1]!)
          ? v[offset + k + 1]!
          : v[offset + k - 1]! + 1;
      let y = x - k;
      while (x < n && y < m && a[x] === b[y]) {
        x++;
        y++;
      }
      v[offset + k] = x;
      if (x >= n && y >= m) break outer;
    }
  }
  const ops: Op[] = [];
  let x = n;
  let y = m;
  for (let d = trace.length - 1; d >= 0; d--) {
    const vd = trace[d]!;
    const k = x - y;
    const prevK = k === -d || (k !== d && vd[offset + k - 1]! < vd[offset + k + 1]!) ? k + 1 : k - 1;
    const prevX = vd[offset + prevK]!;
    const prevY = prevX - prevK;
    while (x > prevX && y > prevY) {
      x--;
      y--;
      ops.push({ kind: ' ', line: a[x]! });
    }
    if (d > 0) {
      if (x === prevX) ops.push({ kind: '+', line: b[--y]! });
      else ops.push({ kind: '-', line: a[--x]! });
    }
  }
  return ops.reverse();
}

function render(op: Op): string {
  const missingNewline = op.line.endsWith('\u0000');
  const line = `${op.kind}${missingNewline ? op.line.slice(0, -1) : op.line}\n`;
  return missingNewline ? `${line}${NO_NEWLINE}\n` : line;
}

function range(start: number, count: number): string {
  // An empty range names the line before it (`-0,0` for a new file).
  const first = count === 0 ? start : start + 1;
  return count === 1 ? `${first}` : `${first},${count}`;
}

/** `--- from` / `+++ to` and hunks with `context` lines around each change; '' when equal. */
export function unifiedDiff(
  before: string,
  after: string,
  labels: { readonly from: string; readonly to: string },
  context = 3,
): string {
  if (before === after) return '';
  const ops = editScript(splitLines(before), splitLines(after));
  // Where each op starts in either file (0-based line numbers).
  const aAt: number[] = [];
  const bAt: number[] = [];
  let a = 0;
  let b = 0;
  for (const op of ops) {
    aAt.push(a);
    bAt.push(b);
    if (op.kind !== '+') a++;
    if (op.kind !== '-') b++;
  }
  const changed = ops.flatMap((op, index) => (op.kind === ' ' ? [] : [index]));
  let out = `--- ${labels.from}\n+++ ${labels.to}\n`;
  let next = 0;
  while (next < changed.length) {
    // A hunk spans changes less than `2 * context` unchanged lines apart.
    let last = next;
    while (last + 1 < changed.length && changed[last + 1]! - changed[last]! - 1 <= 2 * context) last++;
    const start = Math.max(0, changed[next]! - context);
    const end = Math.min(ops.length, changed[last]! + 1 + context);
    const hunk = ops.slice(start, end);
    const aCount = hunk.filter((op) => op.kind !== '+').length;
    const bCount = hunk.filter((op) => op.kind !== '-').length;
    out += `@@ -${range(aAt[start]!, aCount)} +${range(bAt[start]!, bCount)} @@\n`;
    out += hunk.map(render).join('');
    next = last + 1;
  }
  return out;
}
