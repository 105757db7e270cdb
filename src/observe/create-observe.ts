// Prometheus instant queries and HTTP checks, with hard timeouts. Failures become coded
// observe_unavailable errors (queries) or a status-0 result (checks); the assessment reports them.
import axios, { type AxiosInstance } from 'axios';
import { CodedError } from '../errors.js';
import type { ObservePort } from '../rollback/ports.js';

interface PromResponse {
  status: string;
  error?: string;
  data?: { resultType: string; result: { value?: [number, string] }[] | [number, string] };
}

export function createObserve(opts: { prometheusUrl: string | undefined; timeoutMs?: number }): ObservePort {
  const timeout = opts.timeoutMs ?? 5000;
  const http: AxiosInstance = axios.create({
    timeout,
    validateStatus: () => true,
    maxContentLength: 1 << 20,
  });

  return {
    async query(promql, at) {
      if (!opts.prometheusUrl) {
        throw new CodedError('observe_unavailable', 'Prometheus is not configured', {
          remedy: 'Set PROMETHEUS_URL.',
        });
      }
      const params: Record<string, string> = { query: promql };
      if (at) params.time = (at.getTime() / 1000).toFixed(3);
      let res: { status: number; data: PromResponse };
      try {
        res = await http.get<PromResponse>(`${opts.prometheusUrl}/api/v1/query`, { params });
      } catch (err) {
        throw new CodedError(
          'observe_unavailable',
          `Prometheus unreachable at ${opts.prometheusUrl}: ${(err as Error).message}`,
          { cause: err },
        );
      }
      if (res.status !== 200 || res.data?.status !== 'success') {
        throw new CodedError(
          'observe_unavailable',
          `Prometheus answered ${res.status}: ${res.data?.error ?? 'no data'}`,
        );
      }
      const data = res.data.data;
      let raw: string | undefined;
      if (data?.resultType === 'vector') raw = (data.result as { value?: [number, string] }[])[0]?.value?.[1];
      else if (data?.resultType === 'scalar') raw = (data.result as [number, string])[1];
      const value = raw === undefined ? undefined : Number(raw);
      return {
        value: value === undefined || Number.isNaN(value) ? undefined : value,
        query: promql,
        at: at ?? new Date(),
      };
    },

    async httpCheck(url, timeoutMs) {
      const started = Date.now();
      try {
        const res = await http.get(url, { timeout: timeoutMs, responseType: 'text', maxRedirects: 0 });
        const body = typeof res.data === 'string' ? res.data.slice(0, 500) : undefined;
        return { status: res.status, ms: Date.now() - started, ...(body === undefined ? {} : { body }) };
      } catch (err) {
        return { status: 0, ms: Date.now() - started, error: (err as Error).message };
      }
    },
  };
}
