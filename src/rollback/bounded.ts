import type { Source } from './model.js';

/** Runs one assessment source with a time limit; a failure or timeout becomes "unavailable: why". */
export async function bounded<T>(timeoutMs: number, fn: () => Promise<T>): Promise<Source<T>> {
  const started = Date.now();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    const value = await Promise.race([fn(), timeout]);
    return { ok: true, value, ms: Date.now() - started };
  } catch (err) {
    return {
      ok: false,
      unavailable: err instanceof Error ? err.message : String(err),
      ms: Date.now() - started,
    };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Fills a catalog query's placeholders: {{namespace}}, {{deployment}} (the workload's name, whatever
 * its kind), and where the query has them {{pods}} (a regex of the workload's pod names) and
 * {{window}} (a PromQL range such as `300s`).
 */
export function fillQuery(
  template: string,
  vars: { namespace: string; deployment: string; pods?: string; window?: string },
): string {
  let q = template.replaceAll('{{namespace}}', vars.namespace).replaceAll('{{deployment}}', vars.deployment);
  if (vars.pods !== undefined) q = q.replaceAll('{{pods}}', vars.pods);
  if (vars.window !== undefined) q = q.replaceAll('{{window}}', vars.window);
  return q;
}
