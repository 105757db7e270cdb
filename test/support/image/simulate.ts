// Builds the image without Docker by carrying out the Dockerfile's own instructions, one stage at a
// time, each stage in its own directory standing for its root filesystem: WORKDIR makes a directory,
// COPY copies from the build context (as .dockerignore leaves it) or from an earlier stage, RUN runs
// `sh -c` in the stage's working directory with the stage's ENV, ENV/USER/EXPOSE/LABEL/CMD/HEALTHCHECK
// are recorded. Any other instruction, flag or form throws, so the simulation cannot quietly drift
// from the Dockerfile: a new instruction has to be taught here first.
//
// Deviations from a real build, by design:
//  - FROM's base image is not unpacked: its node and npm are this machine's (Node 20 here, Node 24 in
//    the image), found on PATH. The stage directories live under the OS temp dir, with no
//    node_modules above them, so the bot can only load what the stage itself installed.
//  - Files keep this machine's owner; USER is recorded, not applied.
//  - The stages run in order, not in parallel, and nothing is cached.
import { spawn } from 'node:child_process';
import { closeSync, cpSync, existsSync, mkdirSync, openSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join, posix } from 'node:path';
import {
  Copy,
  type Instruction,
  ModifiableInstruction,
  type Property,
  PropertyInstruction,
} from 'dockerfile-ast';
import {
  cmdArgv,
  DOCKERFILE,
  DOCKERIGNORE,
  healthcheckArgv,
  REPO_ROOT,
  readStages,
  where,
} from './dockerfile.js';
import { contextFiles, readDockerignore } from './dockerignore.js';

export interface SimulatedStage {
  name: string | undefined;
  /** The directory standing for the stage's `/`. */
  root: string;
  /** WORKDIR inside the image, e.g. /app. */
  workdir: string;
  env: Record<string, string>;
  user: string | undefined;
  exposed: string[];
  labels: Record<string, string>;
  cmd: string[] | undefined;
  healthcheck: string[] | undefined;
}

export interface Simulation {
  stages: SimulatedStage[];
  /** The stage the image is (the last one). */
  final: SimulatedStage;
  /** Where the output of each RUN went. */
  logFile: string;
}

export interface SimulateOptions {
  /** An empty directory for the stage roots; the caller removes it. */
  dir: string;
  contextDir?: string;
  dockerfile?: string;
  dockerignore?: string;
  /** Where the output of each RUN goes (default: build.log in `dir`). */
  logFile?: string;
}

/** The host settings a RUN needs to reach the npm registry from this machine; none are image content. */
const NETWORK_ENV = [
  'NODE_EXTRA_CA_CERTS',
  'HTTP_PROXY',
  'HTTPS_PROXY',
  'NO_PROXY',
  'http_proxy',
  'https_proxy',
];

export async function simulateBuild(opts: SimulateOptions): Promise<Simulation> {
  const contextDir = opts.contextDir ?? REPO_ROOT;
  const context = contextFiles(contextDir, readDockerignore(opts.dockerignore ?? DOCKERIGNORE));
  const logFile = opts.logFile ?? join(opts.dir, 'build.log');
  const stages: SimulatedStage[] = [];

  for (const [i, stage] of readStages(readFileSync(opts.dockerfile ?? DOCKERFILE, 'utf8')).entries()) {
    const base = stage.from.getImageName() ?? '';
    if (stages.some((s) => s.name === base) || stage.from.getFlags().length)
      throw new Error(`${where(stage.from)}: FROM an earlier stage or with flags is not simulated`);
    const s: SimulatedStage = {
      name: stage.name,
      root: join(opts.dir, `stage-${i}-${stage.name ?? 'unnamed'}`),
      workdir: '/',
      env: {},
      user: undefined,
      exposed: [],
      labels: {},
      cmd: undefined,
      healthcheck: undefined,
    };
    mkdirSync(s.root, { recursive: true });
    for (const ins of stage.instructions) await apply(ins, s, { stages, context, contextDir, logFile });
    stages.push(s);
  }
  const final = stages.at(-1);
  if (!final) throw new Error('Dockerfile has no FROM');
  return { stages, final, logFile };
}

type Refuse = (what: string) => never;

interface Build {
  stages: SimulatedStage[];
  context: string[];
  contextDir: string;
  logFile: string;
}

async function apply(ins: Instruction, s: SimulatedStage, b: Build): Promise<void> {
  const refuse: Refuse = (what) => {
    throw new Error(`${where(ins)}: ${what} is not simulated; teach test/support/image/simulate.ts first`);
  };
  const keyword = ins.getKeyword();
  const flags = ins instanceof ModifiableInstruction ? ins.getFlags() : [];
  const allowed: Record<string, string[]> = {
    COPY: ['from'],
    HEALTHCHECK: ['interval', 'timeout', 'start-period', 'retries'],
  };
  for (const f of flags) if (!allowed[keyword]?.includes(f.getName())) refuse(`${keyword} --${f.getName()}`);
  const args = ins.getArguments().map((a) => a.getValue());
  // Only RUN's shell and the exec-form commands see a `$`; everywhere else it would be substituted.
  if (!['RUN', 'CMD', 'HEALTHCHECK'].includes(keyword) && (ins.getArgumentsContent() ?? '').includes('$'))
    refuse(`variable substitution in ${keyword}`);

  switch (keyword) {
    case 'WORKDIR': {
      const dir = args.join(' ');
      s.workdir = posix.resolve(s.workdir, dir);
      mkdirSync(inRoot(s, s.workdir), { recursive: true });
      return;
    }
    case 'ENV':
      for (const p of properties(ins)) s.env[p.getName()] = p.getValue() ?? '';
      return;
    case 'LABEL':
      for (const p of properties(ins)) s.labels[p.getName()] = p.getValue() ?? '';
      return;
    case 'USER':
      s.user = args.join(' ');
      return;
    case 'EXPOSE':
      s.exposed.push(...args);
      return;
    case 'CMD':
      s.cmd = cmdArgv(ins) ?? refuse('CMD in shell form');
      return;
    case 'HEALTHCHECK':
      s.healthcheck = healthcheckArgv(ins) ?? refuse('HEALTHCHECK other than CMD in exec form');
      return;
    case 'COPY':
      if (!(ins instanceof Copy) || ins.getHeredocs().length) return refuse('COPY with a here-document');
      return copy(ins, s, b, refuse);
    case 'RUN': {
      const command = ins.getArgumentsContent() ?? '';
      if (cmdArgv(ins) || /<</.test(command)) refuse('RUN in exec form or with a here-document');
      return run(command, s, b.logFile, where(ins));
    }
    default:
      refuse(keyword);
  }
}

function properties(ins: Instruction): Property[] {
  if (!(ins instanceof PropertyInstruction)) throw new Error(`${where(ins)}: expected key=value pairs`);
  return ins.getProperties();
}

/** A path inside the image, as a path under the stage's directory. */
function inRoot(s: SimulatedStage, imagePath: string): string {
  return join(s.root, posix.resolve(s.workdir, imagePath));
}

function copy(ins: Copy, s: SimulatedStage, b: Build, refuse: Refuse): void {
  const json = ins.getJSONStrings().map((a) => a.getJSONValue());
  const args = json.length ? json : ins.getArguments().map((a) => a.getValue());
  const dest = args.at(-1) ?? '';
  const sources = args.slice(0, -1);
  if (!sources.length) refuse('COPY without a source');
  if (sources.length > 1 && !dest.endsWith('/')) refuse('COPY of several sources to a destination without /');
  if (sources.some((src) => /[*?[]/.test(src))) refuse('COPY with a wildcard');
  const target = inRoot(s, dest);
  // A file lands inside a destination ending in / (or an existing directory); a directory's contents
  // land in the destination.
  const fileTarget = (src: string) =>
    dest.endsWith('/') || (existsSync(target) && statSync(target).isDirectory())
      ? join(target, basename(src))
      : target;

  const fromName = ins.getFromFlag()?.getValue();
  if (fromName !== undefined) {
    const from = b.stages.find((st) => st.name === fromName) ?? b.stages[Number(fromName)];
    if (!from) refuse(`COPY --from=${fromName} (not an earlier stage)`);
    for (const src of sources) {
      const path = join(from.root, posix.resolve('/', src));
      if (!existsSync(path)) throw new Error(`${where(ins)}: COPY --from=${fromName}: ${src} does not exist`);
      const to = statSync(path).isDirectory() ? target : fileTarget(src);
      mkdirSync(dirname(to), { recursive: true });
      cpSync(path, to, { recursive: true, verbatimSymlinks: true });
    }
    return;
  }

  for (const raw of sources) {
    const src = posix
      .normalize(raw)
      .replace(/^(\.\/|\/)+/, '')
      .replace(/\/+$/, '');
    const files = b.context.filter((f) => src === '.' || f === src || f.startsWith(`${src}/`));
    if (!files.length)
      throw new Error(`${where(ins)}: COPY ${raw}: not in the build context (.dockerignore?)`);
    for (const f of files) {
      const to = f === src ? fileTarget(src) : join(target, src === '.' ? f : f.slice(src.length + 1));
      mkdirSync(dirname(to), { recursive: true });
      cpSync(join(b.contextDir, f), to, { verbatimSymlinks: true });
    }
  }
}

function run(command: string, s: SimulatedStage, logFile: string, at: string): Promise<void> {
  const cwd = inRoot(s, s.workdir);
  const out = openSync(logFile, 'a');
  const env: Record<string, string> = {
    // The base image's PATH, as far as it matters: node, npm and sh.
    PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
    // RUN is root's, whose home is /root: npm's cache lands in the stage, not in this machine's ~/.npm.
    HOME: join(s.root, 'root'),
    ...Object.fromEntries(NETWORK_ENV.flatMap((k) => (process.env[k] ? [[k, process.env[k]]] : []))),
    ...s.env,
  };
  return new Promise((resolve, reject) => {
    const child = spawn('sh', ['-c', command], { cwd, env, stdio: ['ignore', out, out] });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      closeSync(out);
      if (code === 0) resolve();
      else reject(new Error(`${at}: RUN ${command} failed (${signal ?? `exit ${code}`}); see ${logFile}`));
    });
  });
}
