// Worker thread for large lint runs: checks its share of the files and posts plain results back.
import { parentPort, workerData } from 'node:worker_threads';
import type { NameOptions } from '../detect/index.ts';
import type { Candidate } from './discover.ts';
import { gitFacts } from './git.ts';
import { checkCandidates, type LintSettings } from './run.ts';

interface Job {
  readonly candidates: Candidate[];
  readonly names: NameOptions;
  readonly rules: LintSettings['rules'];
  readonly cwd: string;
}

const job = workerData as Job;
parentPort!.postMessage(checkCandidates(job.candidates, job.names, job.rules, gitFacts(job.cwd)));
