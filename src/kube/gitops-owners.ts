// The GitOps owners' objects (Argo CD Applications, Flux Kustomizations and HelmReleases), read and
// patched as raw JSON: the bot only touches the sync settings it suspends and puts back.
import { CodedError, isCodedError } from '../errors.js';
import { type GitOpsOwner, OWNER_API, ownerText } from '../rollback/gitops.js';
import type { JsonObject } from '../rollback/kube-types.js';
import type { KubePort } from '../rollback/ports.js';
import type { KubeAccess } from './kube-access.js';
import { mapStatusError } from './map-error.js';
import { rawGetJson, rawRequest } from './raw-request.js';

const enc = encodeURIComponent;

function ownerPath(o: GitOpsOwner): string {
  const api = OWNER_API[o.kind];
  return `/apis/${api.group}/${api.version}/namespaces/${enc(o.namespace)}/${api.plural}/${enc(o.name)}`;
}

export function gitopsOwners(kc: KubeAccess): Pick<KubePort, 'readOwner' | 'patchOwner' | 'mayPatchOwner'> {
  return {
    async readOwner(o) {
      try {
        return await rawGetJson<JsonObject>(kc, ownerPath(o), ownerText(o));
      } catch (err) {
        // A cluster without the CRD answers 404 as well: either way there is no such owner.
        if (isCodedError(err, 'kube_not_found')) return undefined;
        throw err;
      }
    },

    async patchOwner(o, patch, resourceVersion) {
      const what = `patching ${ownerText(o)}`;
      // metadata.resourceVersion in a merge patch makes the apiserver refuse it (409) if the object
      // moved since it was read: a person's change to the owner is never overwritten.
      const body = JSON.stringify({ ...patch, metadata: { resourceVersion } });
      const res = await rawRequest(kc, 'PATCH', ownerPath(o), {
        body,
        contentType: 'application/merge-patch+json',
      }).catch((err: unknown) => {
        throw mapStatusError(0, '', what, err);
      });
      if (res.status === 409)
        throw new CodedError(
          'rollback_concurrent_change',
          `${ownerText(o)} was changed by someone else since the bot read it; its sync settings were not touched`,
          { remedy: 'Look at the owner, then try again.' },
        );
      if (res.status < 200 || res.status > 299) throw mapStatusError(res.status, res.body, what);
      return JSON.parse(res.body) as JsonObject;
    },

    async mayPatchOwner(o) {
      const api = OWNER_API[o.kind];
      const review = {
        apiVersion: 'authorization.k8s.io/v1',
        kind: 'SelfSubjectAccessReview',
        spec: {
          resourceAttributes: {
            group: api.group,
            resource: api.plural,
            verb: 'patch',
            namespace: o.namespace,
            name: o.name,
          },
        },
      };
      const what = `asking whether the bot may patch ${ownerText(o)}`;
      const res = await rawRequest(kc, 'POST', '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews', {
        body: JSON.stringify(review),
      }).catch((err: unknown) => {
        throw mapStatusError(0, '', what, err);
      });
      if (res.status < 200 || res.status > 299) throw mapStatusError(res.status, res.body, what);
      const allowed = (JSON.parse(res.body) as { status?: { allowed?: boolean } }).status?.allowed === true;
      return allowed
        ? true
        : `the ServiceAccount lacks \`patch\` on ${api.plural}.${api.group} "${o.name}" in namespace ${o.namespace} (see manifests/rbac-gitops.yaml)`;
    },
  };
}
