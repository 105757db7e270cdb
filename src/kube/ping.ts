import type { KubeAccess } from './kube-access.js';
import { rawGetJson } from './raw-request.js';

/** Readiness: the apiserver answers (`/version` is readable by every authenticated identity). */
export async function pingKube(kc: KubeAccess): Promise<string> {
  const v = await rawGetJson<{ gitVersion?: string }>(kc, '/version', 'apiserver /version');
  return v.gitVersion ?? 'ok';
}
