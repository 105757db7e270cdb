// Coded errors: every failure the bot can explain carries a stable code (namespaced by area) and a
// remedy that tells the reader what to do next. Adapters map third-party failures to these at the edge.

export type ErrorCode =
  | 'config_invalid'
  | 'catalog_invalid'
  | 'catalog_unreadable'
  | 'rollback_unknown_service'
  | 'rollback_bad_revision'
  | 'rollback_revision_not_found'
  | 'rollback_no_history'
  | 'rollback_paused'
  | 'rollback_not_paused'
  | 'rollback_in_progress'
  | 'rollback_not_found'
  | 'rollback_wrong_state'
  | 'rollback_unauthorized'
  | 'rollback_concurrent_change'
  | 'rollback_timeout'
  | 'rollback_progress_deadline'
  | 'rollback_deployment_deleted'
  | 'rollback_expired'
  | 'rollback_gitops_refused'
  | 'kube_job_failed'
  | 'rollback_dry_run_limit'
  | 'store_conflict'
  | 'store_lease_lost'
  | 'store_unavailable'
  | 'store_refused'
  | 'kube_not_found'
  | 'kube_forbidden'
  | 'kube_conflict'
  | 'kube_unavailable'
  | 'kube_exec_failed'
  | 'observe_unavailable'
  | 'alerts_unavailable'
  | 'internal';

export class CodedError extends Error {
  readonly code: ErrorCode;
  readonly remedy: string | undefined;
  readonly details: Record<string, unknown> | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    opts: { remedy?: string; details?: Record<string, unknown>; cause?: unknown } = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'CodedError';
    this.code = code;
    this.remedy = opts.remedy;
    this.details = opts.details;
  }

  /** One line for a person: what happened and what to do next. */
  describe(): string {
    if (!this.remedy) return this.message;
    return this.message.includes('\n') ? `${this.message}\n${this.remedy}` : `${this.message} ${this.remedy}`;
  }
}

export function isCodedError(err: unknown, code?: ErrorCode): err is CodedError {
  return err instanceof CodedError && (code === undefined || err.code === code);
}

export function asCodedError(err: unknown): CodedError {
  if (err instanceof CodedError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new CodedError('internal', message, { cause: err });
}
