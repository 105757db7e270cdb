import type { KubeConfig } from '@kubernetes/client-node';
import { rawGetJson } from './raw-request.js';

/** Readiness: the apiserver answers (`/version` is readable by every authenticated identity). */
export async function pingKube(kc: KubeConfig): Promise<string> {
  const v = await rawGetJson<{ gitVersion?: string }>(kc, '/version', 'apiserver /version');
  return v.gitVersion ?? 'ok';
}
