// Kubernetes label selectors, matched in memory: the watch triggers share one pods cache per namespace
// and pick each service's pods from it by the service's podSelector, as the apiserver would have.
// The syntax is the apiserver's: `k=v`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a,b)`, `k`, `!k`,
// ANDed by commas. An empty selector matches everything.

type Requirement = (labels: Readonly<Record<string, string>>) => boolean;

/** Splits on the commas that separate requirements, not those inside `in (a,b)`. */
function requirements(selector: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let part = '';
  for (const ch of selector) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      out.push(part);
      part = '';
    } else part += ch;
  }
  out.push(part);
  return out.map((p) => p.trim()).filter((p) => p !== '');
}

function parseRequirement(text: string): Requirement {
  const set = /^(\S+)\s+(in|notin)\s*\(([^)]*)\)$/.exec(text);
  if (set) {
    const [, key = '', op, list = ''] = set;
    const values = new Set(
      list
        .split(',')
        .map((v) => v.trim())
        .filter((v) => v !== ''),
    );
    return op === 'in'
      ? (l) => key in l && values.has(l[key] ?? '')
      : (l) => !(key in l) || !values.has(l[key] ?? '');
  }
  const cmp = /^([^=!\s]+)\s*(==|=|!=)\s*(\S*)$/.exec(text);
  if (cmp) {
    const [, key = '', op, value = ''] = cmp;
    return op === '!=' ? (l) => l[key] !== value : (l) => key in l && l[key] === value;
  }
  const absent = /^!\s*(\S+)$/.exec(text);
  if (absent) {
    const key = absent[1] ?? '';
    return (l) => !(key in l);
  }
  if (/^\S+$/.test(text)) return (l) => text in l;
  throw new Error(`cannot read label selector requirement "${text}"`);
}

/** A predicate on labels for `selector`; throws on a selector the apiserver would refuse to read. */
export function parseLabelSelector(selector: string | undefined): Requirement {
  const reqs = requirements(selector ?? '').map(parseRequirement);
  return (labels) => reqs.every((r) => r(labels));
}
