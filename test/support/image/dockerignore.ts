// .dockerignore read the way the Docker builder reads it, so the simulated build context holds the same
// files a real one would. The rules (Docker's "Build context" docs): one pattern a line, `#` starts a
// comment line, a leading `/` and trailing `/` mean nothing, `*` and `?` stay within one path segment,
// `**` spans any number of segments (none included), `!` re-includes, the last matching line wins, and
// a pattern that matches a directory matches everything in it. Written here rather than taken from
// npm because it is this short and package.json stays the other engineer's.
import { type Dirent, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface IgnoreRule {
  pattern: string;
  exception: boolean;
  re: RegExp;
}

export function parseDockerignore(text: string): IgnoreRule[] {
  const rules: IgnoreRule[] = [];
  for (const raw of text.split('\n')) {
    let line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const exception = line.startsWith('!');
    if (exception) line = line.slice(1).trim();
    const pattern = line.replace(/^(\.?\/)+/, '').replace(/\/+$/, '');
    if (!pattern || pattern === '.') continue;
    rules.push({ pattern, exception, re: toRegExp(pattern) });
  }
  return rules;
}

export function readDockerignore(file: string): IgnoreRule[] {
  return parseDockerignore(readFileSync(file, 'utf8'));
}

function toRegExp(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] ?? '';
    if (c === '*' && pattern[i + 1] === '*') {
      i++;
      if (pattern[i + 1] === '/') i++;
      // `**` at the end matches everything below; elsewhere any number of whole segments.
      re += i === pattern.length - 1 ? '.*' : '(.*/)?';
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 1);
      if (end < 0) throw new Error(`.dockerignore: unclosed [ in ${pattern}`);
      re += `[${pattern
        .slice(i + 1, end)
        .replace(/^!/, '^')
        .replace(/\\/g, '\\\\')}]`;
      i = end;
    } else if (c === '\\') re += `\\${pattern[++i] ?? '\\'}`;
    else re += c.replace(/[.+^${}()|\]]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/** Whether `path` (relative, `/`-separated) is left out of the build context. */
export function isIgnored(rules: IgnoreRule[], path: string): boolean {
  const segments = path.split('/');
  // The path itself and each directory above it: excluding a directory excludes its contents.
  const candidates = segments.map((_, i) => segments.slice(0, i + 1).join('/'));
  let ignored = false;
  for (const rule of rules) {
    if (candidates.some((c) => rule.re.test(c))) ignored = !rule.exception;
  }
  return ignored;
}

/**
 * The files (and symlinks) the builder receives, as relative `/`-separated paths. Like Docker, an
 * ignored directory is not walked unless an exception names a path inside it; that is what keeps the
 * walk away from node_modules and .git.
 */
export function contextFiles(root: string, rules: IgnoreRule[]): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    const entries: Dirent[] = readdirSync(rel ? join(root, rel) : root, { withFileTypes: true });
    for (const e of entries) {
      const path = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) {
        const reopened = rules.some((r) => r.exception && `${r.pattern}/`.startsWith(`${path}/`));
        if (!isIgnored(rules, path) || reopened) walk(path);
      } else if (!isIgnored(rules, path)) out.push(path);
    }
  };
  walk('');
  return out.sort();
}
