import type { Catalog, CatalogEntry } from '../config/catalog-schema.js';
import { CodedError } from '../errors.js';

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0] ?? 0;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j] ?? 0;
      row[j] = Math.min((row[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length] ?? 0;
}

/** Finds a catalogued service by name; unknown names get a "did you mean" from the catalog. */
export function lookupService(catalog: Catalog, name: string): CatalogEntry {
  const svc = catalog.services.get(name);
  if (svc) return svc;
  const names = [...catalog.services.keys()];
  const close = names
    .map((n) => ({ n, d: n.includes(name) || name.includes(n) ? 0 : distance(name, n) }))
    .filter((x) => x.d <= Math.max(2, Math.floor(name.length / 3)))
    .sort((a, b) => a.d - b.d)
    .map((x) => x.n);
  const hint = close.length
    ? `Did you mean ${close
        .slice(0, 3)
        .map((n) => `\`${n}\``)
        .join(' or ')}?`
    : `Known services: ${names.map((n) => `\`${n}\``).join(', ') || 'none'}.`;
  throw new CodedError('rollback_unknown_service', `unknown service "${name}"`, {
    remedy: hint,
    details: { suggestions: close },
  });
}
