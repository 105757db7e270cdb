// KWOK plays the kubelet. Besides the upstream "fast" node and pod stages we add:
// - pod-crashloop: pods running a bad image (tag "bad" or ending in "-bad") never become Ready; every few
//   seconds their containers "crash" again: waiting CrashLoopBackOff, restartCount + 1, a BackOff event.
//   Weight 10000 beats pod-ready (weight 0); deletionTimestamp must be absent or pods could never be deleted.
// - a ClusterExec that runs `kubectl exec` commands as local programs, with exec-bin (our fake `alembic`,
//   backed by the world's PostgreSQL) first on PATH.
// Logs are served from per-pod `Logs` objects (CRD mode) that the world agent creates, so good and bad
// pods can show different logs.
import { writeFileSync } from 'node:fs';

/** Matches the tags the world treats as bad releases: `:bad` or `:<anything>-bad`. */
export const BAD_IMAGE_JQ = `.spec.containers.[].image | test(":([^:/@]*-)?bad$")`;

export function writeKwokConfig(file: string, execWorkDir: string, execEnv: Record<string, string>): void {
  const envs = Object.entries(execEnv)
    .map(([name, value]) => `        - name: ${name}\n          value: ${JSON.stringify(value)}`)
    .join('\n');
  writeFileSync(
    file,
    `apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: pod-crashloop
spec:
  resourceRef:
    apiGroup: v1
    kind: Pod
  selector:
    matchExpressions:
    - key: '.metadata.deletionTimestamp'
      operator: 'DoesNotExist'
    - key: '${BAD_IMAGE_JQ}'
      operator: 'In'
      values: ['true']
  weight: 10000
  delay:
    durationMilliseconds: 3000
    # KWOK treats the jitter as the upper bound: each crash comes 3-5 s after the last.
    jitterDurationMilliseconds: 5000
  next:
    event:
      type: Warning
      reason: BackOff
      message: Back-off restarting failed container
    statusTemplate: |
      {{ $now := Now }}
      {{ $statuses := or .status.containerStatuses list }}
      conditions:
      - lastTransitionTime: {{ $now | Quote }}
        status: "True"
        type: Initialized
      - lastTransitionTime: {{ $now | Quote }}
        status: "False"
        reason: ContainersNotReady
        type: Ready
      - lastTransitionTime: {{ $now | Quote }}
        status: "False"
        reason: ContainersNotReady
        type: ContainersReady
      containerStatuses:
      {{ range .spec.containers }}
      {{ $name := .name }}
      {{ $restarts := 0 }}
      {{ range $statuses }}{{ if eq .name $name }}{{ $restarts = add1 ( or .restartCount 0 ) }}{{ end }}{{ end }}
      - image: {{ .image | Quote }}
        name: {{ .name | Quote }}
        ready: false
        started: false
        restartCount: {{ $restarts }}
        state:
          running: null
          waiting:
            reason: CrashLoopBackOff
            message: {{ printf "back-off 10s restarting failed container=%s" .name | Quote }}
        lastState:
          terminated:
            exitCode: 1
            reason: Error
            startedAt: {{ $now | Quote }}
            finishedAt: {{ $now | Quote }}
      {{ end }}
      {{ $hostIPs := NodeIPsWith .spec.nodeName }}
      {{ with $hostIPs }}
      hostIP: {{ index . 0 | Quote }}
      {{ end }}
      {{ $podIPs := PodIPsWith .spec.nodeName ( or .spec.hostNetwork false ) ( or .metadata.uid "" ) ( or .metadata.name "" ) ( or .metadata.namespace "" ) }}
      {{ with $podIPs }}
      podIP: {{ index . 0 | Quote }}
      {{ end }}
      phase: Running
      startTime: {{ $now | Quote }}
---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: ClusterExec
metadata:
  name: local-commands
spec:
  execs:
  - local:
      workDir: ${JSON.stringify(execWorkDir)}
      envs:
${envs}
`,
  );
}
