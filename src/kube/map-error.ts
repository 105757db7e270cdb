import { CodedError } from '../errors.js';

/** Maps an apiserver failure (HTTP status + Status body) to a coded error the user can act on. */
export function mapStatusError(status: number, body: string, what: string, cause?: unknown): CodedError {
  let message = '';
  try {
    message = (JSON.parse(body) as { message?: string }).message ?? '';
  } catch {
    message = body.slice(0, 300);
  }
  const detail = message || (cause instanceof Error ? cause.message : `HTTP ${status}`);
  switch (status) {
    case 404:
      return new CodedError('kube_not_found', `${what}: not found (${detail})`, {
        remedy: 'Check the namespace and name in the catalog.',
      });
    case 401:
    case 403:
      return new CodedError('kube_forbidden', `${what}: forbidden (${detail})`, {
        remedy: "Check the bot's ServiceAccount RBAC (manifests/rbac.yaml).",
      });
    case 409:
      return new CodedError('kube_conflict', `${what}: conflict (${detail})`);
    case 0:
      return new CodedError('kube_unavailable', `${what}: Kubernetes API unreachable (${detail})`, {
        remedy: 'Check KUBECONFIG / in-cluster access and that the apiserver is up.',
        cause,
      });
    default:
      return new CodedError(
        status === 422 ? 'kube_conflict' : 'kube_unavailable',
        `${what}: HTTP ${status} (${detail})`,
        { cause },
      );
  }
}

/** For errors thrown by the typed client (ApiException carries `code` and the Status text in `body`). */
export function mapClientError(err: unknown, what: string): CodedError {
  if (err instanceof CodedError) return err;
  const e = err as { code?: unknown; body?: unknown; statusCode?: unknown };
  const status = typeof e.code === 'number' ? e.code : typeof e.statusCode === 'number' ? e.statusCode : 0;
  return mapStatusError(status, typeof e.body === 'string' ? e.body : '', what, err);
}
