// The Kubernetes port, with @kubernetes/client-node for credentials, watch, logs and exec.
// Reads of Deployments and ReplicaSets are raw JSON (see raw-request.ts for why).
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import { CodedError, isCodedError } from '../errors.js';
import type { DeploymentSnapshot, JsonObject } from '../rollback/kube-types.js';
import type { KubePort } from '../rollback/ports.js';
import { describeWorkloadChange } from '../rollback/workload-change.js';
import { execInPod } from './exec-in-pod.js';
import { mapClientError, mapStatusError } from './map-error.js';
import { rawGetJson, rawRequest } from './raw-request.js';
import { toDeployment, toEvent, toJob, toPod, toReplicaSet } from './snapshots.js';
import { waitForRollout } from './wait-for-rollout.js';

// biome-ignore lint/suspicious/noExplicitAny: raw apiserver JSON
type RawList = { items: any[]; metadata?: { continue?: string } };

const enc = encodeURIComponent;

async function listAll(kc: KubeConfig, path: string, what: string): Promise<RawList['items']> {
  const items: RawList['items'] = [];
  let cont: string | undefined;
  do {
    const sep = path.includes('?') ? '&' : '?';
    const page = await rawGetJson<RawList>(kc, cont ? `${path}${sep}continue=${enc(cont)}` : path, what);
    items.push(...page.items);
    cont = page.metadata?.continue || undefined;
  } while (cont);
  return items;
}

/** How many times an undo retries when only the Deployment's status moved between read and patch. */
const STATUS_ONLY_RETRIES = 5;

export function createKube(kc: KubeConfig): KubePort {
  const core = kc.makeApiClient(CoreV1Api);
  const jobsPath = (ns: string) => `/apis/batch/v1/namespaces/${enc(ns)}/jobs`;
  const deploymentPath = (ns: string, name: string) =>
    `/apis/apps/v1/namespaces/${enc(ns)}/deployments/${enc(name)}`;

  async function readDeployment(namespace: string, name: string): Promise<DeploymentSnapshot> {
    return toDeployment(
      await rawGetJson(kc, deploymentPath(namespace, name), `Deployment ${namespace}/${name}`),
    );
  }

  return {
    readDeployment,

    async listReplicaSets(d) {
      const path = `/apis/apps/v1/namespaces/${enc(d.namespace)}/replicasets?labelSelector=${enc(d.selector)}`;
      return (await listAll(kc, path, `ReplicaSets of ${d.namespace}/${d.name}`)).map(toReplicaSet);
    },

    async listPods(namespace, selector) {
      const path = `/api/v1/namespaces/${enc(namespace)}/pods?labelSelector=${enc(selector)}`;
      return (await listAll(kc, path, `pods ${selector} in ${namespace}`)).map(toPod);
    },

    async listWarningEvents(namespace, objectNames, limit) {
      const path = `/api/v1/namespaces/${enc(namespace)}/events?fieldSelector=${enc('type=Warning')}`;
      const names = new Set(objectNames);
      return (await listAll(kc, path, `events in ${namespace}`))
        .filter((e) => names.has(e.involvedObject?.name))
        .map(toEvent)
        .sort((a, b) => b.lastSeen.localeCompare(a.lastSeen))
        .slice(0, limit);
    },

    async readLogs(namespace, pod, opts) {
      try {
        return await core.readNamespacedPodLog({
          name: pod,
          namespace,
          ...(opts.container ? { container: opts.container } : {}),
          tailLines: opts.tailLines,
          limitBytes: opts.limitBytes,
          previous: opts.previous ?? false,
        });
      } catch (err) {
        throw mapClientError(err, `logs of ${namespace}/${pod}`);
      }
    },

    async patchUndo(expected, template, annotations, opts = {}) {
      // JSON patch exactly as kubectl sends it (replace template, replace annotations), preceded by a
      // `test` of the resourceVersion we planned against: a change by someone else fails the patch.
      // `add` instead of `replace` for annotations also works when the map is missing (kubectl §7.13).
      let base = expected;
      for (let attempt = 0; ; attempt++) {
        const ops = [
          { op: 'test', path: '/metadata/resourceVersion', value: base.resourceVersion },
          { op: 'replace', path: '/spec/template', value: template },
          { op: 'add', path: '/metadata/annotations', value: annotations },
        ];
        const query = opts.dryRun ? '?dryRun=All' : '';
        const what = `Deployment ${expected.namespace}/${expected.name}`;
        let res: Awaited<ReturnType<typeof rawRequest>>;
        try {
          res = await rawRequest(kc, 'PATCH', deploymentPath(expected.namespace, expected.name) + query, {
            body: JSON.stringify(ops),
            contentType: 'application/json-patch+json',
          });
        } catch (err) {
          throw mapStatusError(0, '', what, err);
        }
        if (res.status >= 200 && res.status < 300) return toDeployment(JSON.parse(res.body));
        const testFailed = res.status === 409 || res.status === 422 || /test/i.test(res.body);
        if (!testFailed) throw mapStatusError(res.status, res.body, `patching ${what}`);
        const now = await readDeployment(expected.namespace, expected.name);
        const changed = changedFields(expected, now);
        if (changed.length > 0 || now.uid !== expected.uid) {
          throw new CodedError(
            'rollback_concurrent_change',
            `${what} was changed by someone else since it was assessed (${changed.join(', ') || 'recreated'}); nothing was patched`,
            { remedy: 'Look at what changed, then request the rollback again.', details: { changed } },
          );
        }
        if (attempt >= STATUS_ONLY_RETRIES) throw mapStatusError(res.status, res.body, `patching ${what}`);
        base = now; // only status moved (the controller writes it constantly): plan still holds
      }
    },

    waitForRollout: (namespace, name, opts) => waitForRollout(kc, readDeployment, namespace, name, opts),

    exec: (namespace, pod, container, argv, timeoutMs) =>
      execInPod(kc, namespace, pod, container, argv, timeoutMs),

    async createJob(namespace, job) {
      const what = `creating Job ${namespace}/${String((job.metadata as { name?: string })?.name)}`;
      const res = await rawRequest(kc, 'POST', jobsPath(namespace), { body: JSON.stringify(job) }).catch(
        (err: unknown) => {
          throw mapStatusError(0, '', what, err);
        },
      );
      if (res.status < 200 || res.status > 299) throw mapStatusError(res.status, res.body, what);
    },

    async readJob(namespace, name) {
      try {
        return toJob(await rawGetJson(kc, `${jobsPath(namespace)}/${enc(name)}`, `Job ${namespace}/${name}`));
      } catch (err) {
        if (isCodedError(err, 'kube_not_found')) return undefined;
        throw err;
      }
    },

    async deleteJob(namespace, name) {
      const what = `deleting Job ${namespace}/${name}`;
      const res = await rawRequest(kc, 'DELETE', `${jobsPath(namespace)}/${enc(name)}`, {
        body: JSON.stringify({ kind: 'DeleteOptions', apiVersion: 'v1', propagationPolicy: 'Background' }),
      }).catch((err: unknown) => {
        throw mapStatusError(0, '', what, err);
      });
      if (res.status === 404) return;
      if (res.status < 200 || res.status > 299) throw mapStatusError(res.status, res.body, what);
    },
  };
}

/**
 * What differs between two reads that the planned patch depends on: the pod template, the paused
 * flag and the annotations it replaces. Replicas (an autoscaler, `kubectl scale`) and status never count.
 */
function changedFields(a: DeploymentSnapshot, b: DeploymentSnapshot): string[] {
  const out = describeWorkloadChange(a, b);
  if (JSON.stringify(sorted(a.annotations)) !== JSON.stringify(sorted(b.annotations)))
    out.push('annotations');
  return out;
}

function sorted(o: Record<string, string>): JsonObject {
  return Object.fromEntries(Object.entries(o).sort(([x], [y]) => x.localeCompare(y)));
}
