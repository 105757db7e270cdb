// Which catalogued workload a pod from the shared namespace cache belongs to: its controller owner.
import type { V1Pod } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { podWorkload } from '../../../src/kube/namespace-pods.js';

const pod = (
  owner: { kind: string; name: string; controller?: boolean } | undefined,
  hash?: string,
): V1Pod => ({
  metadata: {
    name: 'p',
    labels: hash ? { 'pod-template-hash': hash } : {},
    ...(owner
      ? {
          ownerReferences: [
            { apiVersion: 'apps/v1', uid: 'u', controller: owner.controller ?? true, ...owner },
          ],
        }
      : {}),
  },
});

describe('podWorkload', () => {
  it('names the Deployment of a ReplicaSet-owned pod by the ReplicaSet name minus its hash', () => {
    expect(podWorkload(pod({ kind: 'ReplicaSet', name: 'svc-01-7d9f8b6c5' }, '7d9f8b6c5'))).toEqual({
      kind: 'Deployment',
      name: 'svc-01',
    });
  });

  it('names a StatefulSet or DaemonSet owner directly', () => {
    expect(podWorkload(pod({ kind: 'StatefulSet', name: 'ledger' }))).toEqual({
      kind: 'StatefulSet',
      name: 'ledger',
    });
    expect(podWorkload(pod({ kind: 'DaemonSet', name: 'agent' }))).toEqual({
      kind: 'DaemonSet',
      name: 'agent',
    });
  });

  it('claims no workload for a bare pod, a non-controller owner, or a ReplicaSet not named by its hash', () => {
    expect(podWorkload(pod(undefined))).toBeUndefined();
    expect(podWorkload(pod({ kind: 'StatefulSet', name: 'ledger', controller: false }))).toBeUndefined();
    expect(podWorkload(pod({ kind: 'ReplicaSet', name: 'handmade' }, '7d9f8b6c5'))).toBeUndefined();
    expect(podWorkload(pod({ kind: 'Job', name: 'migrate' }))).toBeUndefined();
  });
});
