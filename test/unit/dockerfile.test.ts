// The Dockerfile, linted: dockerfile-utils for what the Docker builder itself would reject or warn
// about, then our own rules for what matters to this image (hadolint-like, parsed with dockerfile-ast,
// not grepped). Each rule is a function of the Dockerfile and .dockerignore text, so the last test can
// show every rule objecting to a Dockerfile that breaks it.
import { readFileSync } from 'node:fs';
import { Arg, Copy, DockerfileParser, Env, type Instruction } from 'dockerfile-ast';
import { ValidationSeverity, type ValidatorSettings, validate } from 'dockerfile-utils';
import { describe, expect, it } from 'vitest';
import {
  cmdArgv,
  DOCKERFILE,
  DOCKERIGNORE,
  healthcheckArgv,
  REPO_ROOT,
  readStages,
  type Stage,
  where,
} from '../support/image/dockerfile.js';
import { contextFiles, isIgnored, parseDockerignore } from '../support/image/dockerignore.js';

// Every setting dockerfile-utils has, raised from its default (mostly warning) to error.
const STRICT: Required<ValidatorSettings> = {
  deprecatedMaintainer: ValidationSeverity.ERROR,
  directiveCasing: ValidationSeverity.ERROR,
  emptyContinuationLine: ValidationSeverity.ERROR,
  instructionCasing: ValidationSeverity.ERROR,
  instructionCmdMultiple: ValidationSeverity.ERROR,
  instructionEntrypointMultiple: ValidationSeverity.ERROR,
  instructionHealthcheckMultiple: ValidationSeverity.ERROR,
  instructionJSONInSingleQuotes: ValidationSeverity.ERROR,
  instructionWorkdirRelative: ValidationSeverity.ERROR,
};

function lint(dockerfile: string): string[] {
  return validate(dockerfile, STRICT).map(
    (d) => `Dockerfile:${d.range.start.line + 1}: ${d.message} (severity ${d.severity})`,
  );
}

const keyword = (k: string) => (i: Instruction) => i.getKeyword() === k;
function finalStage(stages: Stage[]): Stage {
  const last = stages.at(-1);
  if (!last) throw new Error('Dockerfile has no FROM');
  return last;
}
const lastOf = (stage: Stage, k: string) => stage.instructions.filter(keyword(k)).at(-1);

/** A rule returns its objections; none means the Dockerfile keeps it. */
type Rule = (dockerfile: string, dockerignore: string) => string[];

const rules: Record<string, Rule> = {
  'is multi-stage, with a named build stage the final stage copies from': (df) => {
    const stages = readStages(df);
    const build = stages.slice(0, -1).filter((s) => s.name);
    if (stages.length < 2 || !build.length) return ['needs a named build stage before the final stage'];
    const copiesFrom = finalStage(stages).instructions.flatMap((c) =>
      c instanceof Copy ? [c.getFromFlag()?.getValue()] : [],
    );
    return build.some((s) => copiesFrom.includes(s.name ?? ''))
      ? []
      : ['the final stage copies from no build stage'];
  },

  'pins every FROM to a version tag (no latest, no bare image)': (df) => {
    const stages = readStages(df);
    return stages.flatMap((s) => {
      const image = s.from.getImage() ?? '';
      if (stages.some((earlier) => earlier.name && earlier.name === image)) return [];
      const tag = s.from.getImageTag();
      if (s.from.getImageDigest()) return [];
      return /^v?\d/.test(tag ?? '') // a version, so neither `latest` nor no tag at all
        ? []
        : [`${where(s.from)}: ${image} is not pinned to a version`];
    });
  },

  'runs the final stage as a numeric, non-root USER': (df) => {
    const user = lastOf(finalStage(readStages(df)), 'USER');
    const value = user?.getArgumentsContent()?.trim() ?? '';
    const m = /^(\d+)(?::(\d+))?$/.exec(value);
    if (!m) return [`final USER is ${value ? `"${value}", not numeric uid:gid` : 'missing (root)'}`];
    return m[1] === '0' ? ['final USER is root'] : [];
  },

  'has a HEALTHCHECK in exec form that asks /health': (df) => {
    const hc = lastOf(finalStage(readStages(df)), 'HEALTHCHECK');
    if (!hc) return ['no HEALTHCHECK in the final stage'];
    const argv = healthcheckArgv(hc);
    if (!argv) return [`${where(hc)}: HEALTHCHECK is not CMD in exec form`];
    return argv.some((a) => a.includes('/health')) ? [] : [`${where(hc)}: HEALTHCHECK does not ask /health`];
  },

  'starts the compiled bot with CMD in exec form': (df) => {
    const final = finalStage(readStages(df));
    const cmd = lastOf(final, 'CMD');
    if (!cmd) return ['no CMD in the final stage'];
    // Shell form would make sh PID 1, and sh does not pass SIGTERM on to node.
    const argv = cmdArgv(cmd);
    if (!argv) return [`${where(cmd)}: CMD is in shell form`];
    const problems = argv.join(' ').includes('dist/main.js serve')
      ? []
      : [`${where(cmd)}: CMD does not run dist/main.js serve`];
    for (const e of final.instructions.filter(keyword('ENTRYPOINT')))
      if (!cmdArgv(e)) problems.push(`${where(e)}: ENTRYPOINT is in shell form`);
    return problems;
  },

  'EXPOSEs the port the bot listens on': (df) => {
    const final = finalStage(readStages(df));
    const env = final.instructions.flatMap((i) => (i instanceof Env ? i.getProperties() : []));
    const port = env.findLast((p) => p.getName() === 'PORT')?.getValue() ?? '8080'; // the bot's default
    const exposed = final.instructions
      .filter(keyword('EXPOSE'))
      .flatMap((e) => e.getArguments().map((a) => a.getValue()));
    return exposed.some((e) => e.replace(/\/tcp$/, '') === port) ? [] : [`port ${port} is not EXPOSEd`];
  },

  'installs only production dependencies, from the lockfile, in the final stage': (df) => {
    const runs = finalStage(readStages(df)).instructions.filter(keyword('RUN'));
    const npm = runs.map((r) => r.getArgumentsContent() ?? '').filter((c) => /\bnpm\b/.test(c));
    const problems = npm
      .filter(
        (c) => /\bnpm\s+(i|install|add)\b/.test(c) || (/\bnpm\s+ci\b/.test(c) && !/--omit=dev\b/.test(c)),
      )
      .map((c) => `final stage runs "${c}"`);
    if (!npm.some((c) => /\bnpm\s+ci\s+--omit=dev\b/.test(c)))
      problems.push('final stage does not run npm ci --omit=dev');
    return problems;
  },

  'gives no secret-looking ENV or ARG a value': (df) => {
    const parsed = DockerfileParser.parse(df);
    return parsed
      .getInstructions()
      .flatMap((i) => (i instanceof Env ? i.getProperties() : i instanceof Arg ? [i.getProperty()] : []))
      .filter((p) => p && /TOKEN|SECRET|PASSWORD|PASSWD|KEY|CREDENTIAL/i.test(p.getName()) && p.getValue())
      .map((p) => `${p?.getName()} has a value in the Dockerfile`);
  },

  'fetches nothing from a URL with ADD': (df) =>
    DockerfileParser.parse(df)
      .getInstructions()
      .filter(keyword('ADD'))
      .filter((a) => a.getArguments().some((x) => /^(https?|git|ssh):\/\/|^git@/.test(x.getValue())))
      .map((a) => `${where(a)}: ADD from a URL`),

  'copies no source into the final stage': (df) =>
    finalStage(readStages(df))
      .instructions.filter(keyword('COPY'))
      .filter((c) => {
        const sources = c
          .getArguments()
          .slice(0, -1)
          .map((a) => a.getValue().replace(/^\.\//, ''));
        return sources.some((s) => s === '.' || s === '' || /(^|\/)(src|test)(\/|$)|\.ts$/.test(s));
      })
      .map((c) => `${where(c)}: ${c.getArgumentsContent()} copies sources into the final stage`),

  'keeps test/ out of the build context': (_df, ignore) =>
    ['test/unit/dockerfile.test.ts', 'test/support/world/world.ts']
      .filter((p) => !isIgnored(parseDockerignore(ignore), p))
      .map((p) => `${p} is in the build context`),

  'keeps .env files out of the build context': (_df, ignore) =>
    ['.env', '.env.local', 'src/.env', 'src/config/.env.production']
      .filter((p) => !isIgnored(parseDockerignore(ignore), p))
      .map((p) => `${p} is in the build context`),
};

const dockerfile = readFileSync(DOCKERFILE, 'utf8');
const dockerignore = readFileSync(DOCKERIGNORE, 'utf8');

describe('Dockerfile', () => {
  it('passes dockerfile-utils with every check raised to error', () => {
    expect(lint(dockerfile)).toEqual([]);
  });

  for (const [name, rule] of Object.entries(rules)) {
    it(name, () => {
      expect(rule(dockerfile, dockerignore)).toEqual([]);
    });
  }

  it('sends the builder only the package manifests, the tsconfigs and src/', () => {
    const files = contextFiles(REPO_ROOT, parseDockerignore(dockerignore));
    const unexpected = files.filter(
      (f) =>
        !['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json'].includes(f) &&
        !f.startsWith('src/'),
    );
    expect(unexpected).toEqual([]);
    expect(files).toContain('src/main.ts');
  });

  it('objects to a Dockerfile that breaks every rule', () => {
    const bad = [
      'from node',
      'WORKDIR app',
      'COPY . .',
      'ADD https://example.com/tool.tgz /tmp/',
      'ENV SLACK_BOT_TOKEN=xoxb-123 NODE_ENV=production',
      'ARG NPM_TOKEN=abc',
      'RUN npm install',
      'HEALTHCHECK CMD curl -f http://localhost:8080/ || exit 1',
      'CMD node dist/main.js serve',
      '',
    ].join('\n');
    expect(lint(bad).length).toBeGreaterThan(0);
    const silent = Object.entries(rules)
      .filter(([, rule]) => rule(bad, 'node_modules\n').length === 0)
      .map(([name]) => name);
    expect(silent).toEqual([]);
  });
});

describe('.dockerignore matching (test/support/image/dockerignore.ts)', () => {
  it('follows Docker: last match wins, directories take their contents, * stays in a segment', () => {
    const rules = parseDockerignore(
      ['# comment', '*', '!src/', 'src/**/*.md', '!src/keep.md', '**/.env*', ''].join('\n'),
    );
    const cases: [string, boolean][] = [
      ['README.md', true],
      ['node_modules/x/index.js', true],
      ['src/main.ts', false],
      ['src/notes.md', true],
      ['src/deep/er/notes.md', true],
      ['src/keep.md', false],
      ['src/.env', true],
      ['src/config/.env.local', true],
      ['src/config/env.ts', false],
    ];
    expect(cases.map(([p]) => [p, isIgnored(rules, p)])).toEqual(cases);
    const star = parseDockerignore('*.md\n');
    expect([isIgnored(star, 'README.md'), isIgnored(star, 'docs/README.md')]).toEqual([true, false]);
  });
});
