// The one rule for reading verification checks, so the verdict, the audit trail and every renderer
// agree: a check that could not be checked is never a pass, and a check with nothing configured is
// shown but neither passes nor fails the verification.
import type { CheckResult, CheckStatus } from './model.js';

/** The status of a check; records made before `status` existed only have `passed`. */
export function statusOf(c: CheckResult): CheckStatus {
  return c.status ?? (c.passed ? 'passed' : 'failed');
}

/**
 * The verdict: no check failed or unknown, and at least one passed. Not-configured checks are left
 * out both ways: they must not fail a rollback whose service simply has no /health URL, and a
 * verification made only of them (nothing checked at all) is not a pass.
 */
export function verificationPassed(checks: CheckResult[]): boolean {
  const counted = checks.map(statusOf).filter((s) => s !== 'not_configured');
  return counted.length > 0 && counted.every((s) => s === 'passed');
}

/** The checks that stand in the verdict's way (failed or unknown), by name. */
export function blockingChecks(checks: CheckResult[]): string[] {
  return checks.filter((c) => ['failed', 'unknown'].includes(statusOf(c))).map((c) => c.name);
}

/** A check result with `passed` derived from its status (the two never disagree). */
export function checkResult(
  name: string,
  status: CheckStatus,
  evidence: CheckResult['evidence'],
  detail?: string,
): CheckResult {
  return { name, passed: status === 'passed', status, evidence, ...(detail ? { detail } : {}) };
}

/** A check the catalog or environment gives nothing to check: `what` says which setting would. */
export function notConfigured(name: string, what: string, threshold: string): CheckResult {
  return checkResult(name, 'not_configured', { source: what, value: 'not configured', threshold });
}
