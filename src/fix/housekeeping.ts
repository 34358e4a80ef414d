// What goes with moving secrets into files: the secrets directory and `.env` stay out of git
// (`.gitignore` next to the compose file, created or appended once), and `.env.example` lists the
// keys of `.env` with empty values, merged into an existing one without touching its lines.
import { join, relative, sep } from 'node:path';
import ignore from 'ignore';
import { parseDotenv } from '../lint/dotenv/parse.ts';
import type { FixMessage } from './compose.ts';
import { displayPath, type ProjectFiles } from './files.ts';

export interface HousekeepingOptions {
  readonly projectDir: string;
  readonly secretsDir: string;
  /** The fix writes secret files into the secrets directory. */
  readonly secretsWritten: boolean;
  /** Some secret is read from the environment that runs compose (usually `.env`). */
  readonly environmentSourced: boolean;
}

export function planHousekeeping(options: HousekeepingOptions, files: ProjectFiles): FixMessage[] {
  const messages: FixMessage[] = [];
  const env = files.read(join(options.projectDir, '.env'));
  messages.push(...planGitignore(options, env !== undefined, files));
  if (env !== undefined) messages.push(...planEnvExample(options.projectDir, env, files));
  return messages;
}

function planGitignore(options: HousekeepingOptions, envExists: boolean, files: ProjectFiles): FixMessage[] {
  const path = join(options.projectDir, '.gitignore');
  const current = files.read(path);
  const rules = ignore().add(current ?? '');
  const wanted: string[] = [];
  const secretsRel = relative(options.projectDir, options.secretsDir).split(sep).join('/');
  const secretsInside = secretsRel !== '' && !secretsRel.startsWith('../') && !secretsRel.startsWith('/');
  if (options.secretsWritten && secretsInside && !rules.ignores(`${secretsRel}/`))
    wanted.push(`/${secretsRel}/`);
  if ((envExists || options.environmentSourced) && !rules.ignores('.env')) wanted.push('.env');
  const notes: FixMessage[] = [];
  if (options.secretsWritten && !secretsInside) {
    notes.push({
      file: displayPath(options.secretsDir, files.cwd),
      text: 'note: the secrets directory is not below the project directory, so no .gitignore entry was added for it: keep it out of version control',
    });
  }
  if (wanted.length === 0) return notes;
  const prefix = current === undefined || current === '' ? '' : current.endsWith('\n') ? '' : '\n';
  const block = `# secret values (envless compose fix)\n${wanted.join('\n')}\n`;
  files.write(path, `${current ?? ''}${prefix}${block}`);
  const shown = displayPath(path, files.cwd);
  return [
    ...notes,
    { file: shown, text: `${current === undefined ? 'created' : 'updated'}: ignores ${wanted.join(', ')}` },
  ];
}

function planEnvExample(projectDir: string, env: string, files: ProjectFiles): FixMessage[] {
  const path = join(projectDir, '.env.example');
  const current = files.read(path);
  const present = new Set(parseDotenv(current ?? '').map((entry) => entry.key));
  const missing = [...new Set(parseDotenv(env).map((entry) => entry.key))].filter((key) => !present.has(key));
  if (missing.length === 0) return [];
  const prefix = current === undefined || current === '' || current.endsWith('\n') ? '' : '\n';
  files.write(path, `${current ?? ''}${prefix}${missing.map((key) => `${key}=\n`).join('')}`);
  const shown = displayPath(path, files.cwd);
  return [
    {
      file: shown,
      text: `${current === undefined ? 'created' : 'updated'}: lists ${missing.length} key${missing.length === 1 ? '' : 's'} of .env with empty values`,
    },
  ];
}
