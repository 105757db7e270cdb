// The Dockerfile read by dockerfile-ast (the parser behind dockerfile-utils), split into its build
// stages, for the policy checks and the build simulation. Both read the one file the image is built
// from, so neither can drift from it.
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { DockerfileParser, From, type Instruction } from 'dockerfile-ast';

export const REPO_ROOT = resolve(import.meta.dirname, '../../..');
export const DOCKERFILE = join(REPO_ROOT, 'Dockerfile');
export const DOCKERIGNORE = join(REPO_ROOT, '.dockerignore');

export interface Stage {
  /** The `AS` name, if any. */
  name: string | undefined;
  from: From;
  /** The instructions after FROM, up to the next FROM. */
  instructions: Instruction[];
}

export function readStages(text = readFileSync(DOCKERFILE, 'utf8')): Stage[] {
  const stages: Stage[] = [];
  for (const ins of DockerfileParser.parse(text).getInstructions()) {
    if (ins instanceof From) {
      stages.push({ name: ins.getBuildStage() ?? undefined, from: ins, instructions: [] });
      continue;
    }
    const current = stages.at(-1);
    // A global ARG would be the only legal instruction here; we use none.
    if (!current) throw new Error(`${where(ins)}: ${ins.getKeyword()} before the first FROM`);
    current.instructions.push(ins);
  }
  return stages;
}

/** "Dockerfile:12", for messages that point at the instruction. */
export function where(ins: Instruction): string {
  return `Dockerfile:${ins.getRange().start.line + 1}`;
}

/** The argv of an exec-form (JSON array) instruction, or undefined for the shell form. */
export function execForm(json: string): string[] | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    return undefined;
  }
  return Array.isArray(parsed) && parsed.length > 0 && parsed.every((a) => typeof a === 'string')
    ? parsed
    : undefined;
}

/** CMD's argv if it is in exec form, else undefined. */
export function cmdArgv(ins: Instruction): string[] | undefined {
  return execForm(ins.getArgumentsContent() ?? '');
}

/** HEALTHCHECK's command argv if it is `CMD [...]` in exec form, else undefined. */
export function healthcheckArgv(ins: Instruction): string[] | undefined {
  // The arguments after the flags: `CMD ["node", ...]`, or `NONE`.
  const m = /^CMD\s+(.*)$/is.exec(ins.getArgumentsContent() ?? '');
  return m?.[1] ? execForm(m[1]) : undefined;
}
