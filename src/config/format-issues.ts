import type { z } from 'zod';

/** One line per problem: where it is, what is wrong. */
export function formatIssues(issues: readonly z.core.$ZodIssue[], root: string): string[] {
  return issues.map((i) => {
    const path = i.path.length
      ? i.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('')
      : '';
    return `${root}${path}: ${i.message}`;
  });
}
