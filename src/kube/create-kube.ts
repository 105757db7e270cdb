// The Kubernetes port, with @kubernetes/client-node for credentials, watch, logs and exec.
// Reads of Deployments and ReplicaSets are raw JSON (see raw-request.ts for why); so are pod logs, the
// one call that used the typed client, whose module is the generated API (see kube-access.ts).
import { CodedError, isCodedError } from '../errors.js';
import type { JsonObject, WorkloadKind, WorkloadSnapshot } from '../rollback/kube-types.js';
import type { KubePort } from '../rollback/ports.js';
import { describeWorkloadChange } from '../rollback/workload-change.js';
import { execInPod } from './exec-in-pod.js';
import { gitopsOwners } from './gitops-owners.js';
import type { KubeAccess } from './kube-access.js';
import { mapStatusError } from './map-error.js';
import { workloadsPath } from './paths.js';
import { rawGetJson, rawRequest } from './raw-request.js';
import { toControllerRevision, toEvent, toJob, toPod, toReplicaSet, toWorkload } from './snapshots.js';
import { waitForRollout } from './wait-for-rollout.js';

// biome-ignore lint/suspicious/noExplicitAny: raw apiserver JSON
type RawList = { items: any[]; metadata?: { continue?: string } };

const enc = encodeURIComponent;

async function listAll(kc: KubeAccess, path: string, what: string): Promise<RawList['items']> {
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

/** How many times an undo retries when only the workload's status moved between read and patch. */
const STATUS_ONLY_RETRIES = 5;

export function createKube(kc: KubeAccess): KubePort {
  const jobsPath = (ns: string) => `/apis/batch/v1/namespaces/${enc(ns)}/jobs`;
  const workloadPath = (kind: WorkloadKind, ns: string, name: string) =>
    `${workloadsPath(kind, ns)}/${enc(name)}`;

  async function readWorkload(
    kind: WorkloadKind,
    namespace: string,
    name: string,
  ): Promise<WorkloadSnapshot> {
    return toWorkload(
      await rawGetJson(kc, workloadPath(kind, namespace, name), `${kind} ${namespace}/${name}`),
      kind,
    );
  }

  return {
    readWorkload,
    ...gitopsOwners(kc),

    async listRevisions(w) {
      const ns = enc(w.namespace);
      const selector = `labelSelector=${enc(w.selector)}`;
      if (w.kind === 'Deployment') {
        const path = `/apis/apps/v1/namespaces/${ns}/replicasets?${selector}`;
        return (await listAll(kc, path, `ReplicaSets of ${w.namespace}/${w.name}`)).map(toReplicaSet);
      }
      const path = `/apis/apps/v1/namespaces/${ns}/controllerrevisions?${selector}`;
      return (await listAll(kc, path, `ControllerRevisions of ${w.kind} ${w.namespace}/${w.name}`)).map(
        toControllerRevision,
      );
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
      const what = `logs of ${namespace}/${pod}`;
      const query = new URLSearchParams({
        ...(opts.container ? { container: opts.container } : {}),
        tailLines: String(opts.tailLines),
        limitBytes: String(opts.limitBytes),
        previous: String(opts.previous ?? false),
      });
      const path = `/api/v1/namespaces/${enc(namespace)}/pods/${enc(pod)}/log?${query}`;
      // The log is text; a failure is a JSON Status (what the typed client asked for too).
      const res = await rawRequest(kc, 'GET', path, { accept: 'application/json, */*;q=0.8' }).catch(
        (err: unknown) => {
          throw mapStatusError(0, '', what, err);
        },
      );
      if (res.status < 200 || res.status > 299) throw mapStatusError(res.status, res.body, what);
      return res.body;
    },

    async patchUndo(expected, patch, opts = {}) {
      // The patch exactly as kubectl sends it, guarded by the resourceVersion we planned against, so a
      // change by someone else fails the patch. Deployment: JSON patch (replace template, replace
      // annotations) after a `test` op; `add` instead of `replace` for annotations also works when the
      // map is missing (kubectl §7.13). StatefulSet/DaemonSet: the ControllerRevision's data as a
      // strategic merge patch, with metadata.resourceVersion added (the server answers 409 when it
      // moved) — the one byte kubectl does not send.
      let base = expected;
      for (let attempt = 0; ; attempt++) {
        const body =
          patch.type === 'replace-template'
            ? JSON.stringify([
                { op: 'test', path: '/metadata/resourceVersion', value: base.resourceVersion },
                { op: 'replace', path: '/spec/template', value: patch.template },
                { op: 'add', path: '/metadata/annotations', value: patch.annotations },
              ])
            : JSON.stringify({ ...patch.data, metadata: { resourceVersion: base.resourceVersion } });
        const contentType =
          patch.type === 'replace-template'
            ? 'application/json-patch+json'
            : 'application/strategic-merge-patch+json';
        const query = opts.dryRun ? '?dryRun=All' : '';
        const what = `${expected.kind} ${expected.namespace}/${expected.name}`;
        let res: Awaited<ReturnType<typeof rawRequest>>;
        try {
          res = await rawRequest(
            kc,
            'PATCH',
            workloadPath(expected.kind, expected.namespace, expected.name) + query,
            { body, contentType },
          );
        } catch (err) {
          throw mapStatusError(0, '', what, err);
        }
        if (res.status >= 200 && res.status < 300) return toWorkload(JSON.parse(res.body), expected.kind);
        // A failed guard: a failed `test` op (Deployment), 409 Conflict on the resourceVersion (the
        // strategic merge patch; there a 422 is the server refusing the template, not a guard).
        const guardFailed =
          patch.type === 'replace-template'
            ? res.status === 409 || res.status === 422 || /test/i.test(res.body)
            : res.status === 409;
        if (!guardFailed) throw mapStatusError(res.status, res.body, `patching ${what}`);
        const now = await readWorkload(expected.kind, expected.namespace, expected.name);
        const changed = changedFields(expected, now, patch.type === 'replace-template');
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

    waitForRollout: (kind, namespace, name, opts) =>
      waitForRollout(kc, readWorkload, kind, namespace, name, opts),

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
 * flag and, for a Deployment, the annotations the patch replaces (a StatefulSet's or DaemonSet's undo
 * leaves annotations alone). Replicas (an autoscaler, `kubectl scale`) and status never count.
 */
function changedFields(a: WorkloadSnapshot, b: WorkloadSnapshot, annotationsToo: boolean): string[] {
  const out = describeWorkloadChange(a, b);
  if (annotationsToo && JSON.stringify(sorted(a.annotations)) !== JSON.stringify(sorted(b.annotations)))
    out.push('annotations');
  return out;
}

function sorted(o: Record<string, string>): JsonObject {
  return Object.fromEntries(Object.entries(o).sort(([x], [y]) => x.localeCompare(y)));
}
