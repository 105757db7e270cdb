// What `serve` loads at start: @kubernetes/client-node's index (and its KubeConfig module) load the
// whole generated API, ≈ 65 MB resident for calls the bot does not make (see src/kube/kube-access.ts).
// Walks the static (run-time) imports from main.ts, and on into the library's own files, and fails if
// the walk reaches the generated API. Dynamic import() is not followed: that is how the parts that do
// need the full library (the watch triggers, a kubeconfig only it handles) load it, when they are used.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');
const CLIENT = resolve(ROOT, 'node_modules/@kubernetes/client-node/dist');

/** The run-time imports of a module: `import type`, `export type` and dynamic import() excluded. */
function runtimeImports(text: string): string[] {
  const specs: string[] = [];
  for (const m of text.matchAll(/^\s*(import|export)\s+([^;]*?)\s*from\s+['"]([^'"]+)['"]/gms)) {
    const clause = m[2] ?? '';
    if (/^type\s/.test(clause)) continue;
    // `import { type A, type B }` only: erased too.
    const names = /^\{([^}]*)\}$/.exec(clause.trim())?.[1];
    if (names?.split(',').every((n) => n.trim() === '' || n.trim().startsWith('type '))) continue;
    specs.push(m[3] ?? '');
  }
  for (const m of text.matchAll(/^\s*import\s+['"]([^'"]+)['"]/gm)) specs.push(m[1] ?? '');
  return specs;
}

function resolveSpec(from: string, spec: string): string | undefined {
  if (spec.startsWith('.')) {
    const js = resolve(dirname(from), spec);
    const ts = js.replace(/\.js$/, '.ts');
    return existsSync(ts) ? ts : existsSync(js) ? js : undefined;
  }
  if (spec === '@kubernetes/client-node') return resolve(CLIENT, 'index.js');
  if (spec.startsWith('@kubernetes/client-node/')) return resolve(ROOT, 'node_modules', spec);
  return undefined; // other packages: not walked
}

/** Every file reached from `entry`, with the chain that reached it. */
function reach(entry: string): Map<string, string[]> {
  const chains = new Map<string, string[]>([[entry, [entry]]]);
  const queue = [entry];
  for (let f = queue.shift(); f !== undefined; f = queue.shift()) {
    for (const spec of runtimeImports(readFileSync(f, 'utf8'))) {
      const to = resolveSpec(f, spec);
      if (!to || chains.has(to)) continue;
      chains.set(to, [...(chains.get(f) ?? []), to]);
      queue.push(to);
    }
  }
  return chains;
}

describe('what serve loads at start', () => {
  it('never reaches the generated Kubernetes API', () => {
    const reached = reach(resolve(ROOT, 'src/main.ts'));
    const generated = [...reached].filter(([f]) => f.startsWith(resolve(CLIENT, 'gen')));
    expect(generated.map(([, chain]) => chain.map((f) => relative(ROOT, f)).join(' → ')).slice(0, 3)).toEqual(
      [],
    );
    // The walk did reach the library (its watch, exec and credential modules): it is not vacuous.
    expect([...reached.keys()].some((f) => f.startsWith(CLIENT))).toBe(true);
  });

  it('finds the generated API through the library index (the walk sees what it is looking for)', () => {
    const reached = reach(resolve(CLIENT, 'index.js'));
    expect([...reached.keys()].some((f) => f.startsWith(resolve(CLIENT, 'gen')))).toBe(true);
  });
});
