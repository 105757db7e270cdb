// KWOK plays the kubelet. Besides the upstream "fast" node stages and pod-ready/pod-delete we add:
// - pod-crashloop: pods running a bad image (tag "bad" or ending in "-bad") never become Ready; every few
//   seconds their containers "crash" again: waiting CrashLoopBackOff, restartCount + 1, a BackOff event.
//   Weight 10000 beats pod-ready (weight 0); deletionTimestamp must be absent or pods could never be deleted.
// - pod-slow-start / pod-slow-ready: pods of a `-slow` image start (Running, container started) but
//   become Ready only SLOW_READY_SECONDS later, like a service warming up behind its readiness probe
//   (still running since it started: the Ready patch writes the container statuses out in full).
// - pod-ready-restarted: pods of a `-restarted` image come up Running and Ready with restartCount 1 and a
//   terminated lastState, once: a healthy pod with a restart in its history, not a crash loop.
// None of these touch Job pods: a Job pod runs its command (the stand-in's Job runner, which also sets
// its final phase), whatever its image; upstream pod-complete is left out for the same reason.
// Exec and logs are per pod (`Exec` and `Logs` objects in CRD mode, created by the stand-in), so a
// command knows its pod, container and image, and good and bad pods show different logs.
import { writeFileSync } from 'node:fs';
import { SLOW_READY_SECONDS } from '../releases.js';

/** Matches the tags the world treats as bad releases: `:bad` or `:<anything>-bad`. */
export const BAD_IMAGE_JQ = `.spec.containers.[].image | test(":([^:/@]*-)?bad$")`;

const imageTagged = (suffix: string) => `.spec.containers.[].image | test(":([^:/@]*-)?${suffix}$")`;

/** Selector lines every added pod stage shares: not being deleted, not a Job's pod. */
const COMMON = `    - key: '.metadata.deletionTimestamp'
      operator: 'DoesNotExist'
    - key: '.metadata.ownerReferences.[].kind'
      operator: 'NotIn'
      values: ['Job']`;

const PENDING_NOT_READY = `    - key: '.status.phase'
      operator: 'In'
      values: ['Pending']
    - key: '.status.conditions.[] | select( .type == "Ready" ) | .status'
      operator: 'NotIn'
      values: ['True']`;

/** Host and pod IPs as upstream pod-ready writes them. */
const IPS = `      {{ $hostIPs := NodeIPsWith .spec.nodeName }}
      {{ with $hostIPs }}
      hostIP: {{ index . 0 | Quote }}
      {{ end }}
      {{ $podIPs := PodIPsWith .spec.nodeName ( or .spec.hostNetwork false ) ( or .metadata.uid "" ) ( or .metadata.name "" ) ( or .metadata.namespace "" ) }}
      {{ with $podIPs }}
      podIP: {{ index . 0 | Quote }}
      {{ end }}`;

export function writeKwokConfig(file: string): void {
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
${COMMON}
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
${IPS}
      phase: Running
      startTime: {{ $now | Quote }}
---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: pod-slow-start
spec:
  resourceRef:
    apiGroup: v1
    kind: Pod
  selector:
    matchExpressions:
${COMMON}
${PENDING_NOT_READY}
    - key: '${imageTagged('slow')}'
      operator: 'In'
      values: ['true']
  weight: 10000
  next:
    statusTemplate: |
      {{ $now := Now }}
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
      - image: {{ .image | Quote }}
        name: {{ .name | Quote }}
        ready: false
        started: true
        restartCount: 0
        state:
          running:
            startedAt: {{ $now | Quote }}
      {{ end }}
${IPS}
      phase: Running
      startTime: {{ $now | Quote }}
---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: pod-slow-ready
spec:
  resourceRef:
    apiGroup: v1
    kind: Pod
  selector:
    matchExpressions:
${COMMON}
    - key: '.status.phase'
      operator: 'In'
      values: ['Running']
    - key: '.status.conditions.[] | select( .type == "Ready" ) | .status'
      operator: 'In'
      values: ['False']
    - key: '${imageTagged('slow')}'
      operator: 'In'
      values: ['true']
  weight: 10000
  delay:
    durationMilliseconds: ${SLOW_READY_SECONDS * 1000}
  next:
    # containerStatuses has no merge key, so the patch replaces the whole list: each entry is written out
    # in full (image, started, running since it started), or a Ready pod would show a container that
    # is not running. Conditions merge by type; the warm-up's reason is removed.
    statusTemplate: |
      {{ $now := Now }}
      {{ $statuses := or .status.containerStatuses list }}
      conditions:
      - lastTransitionTime: {{ $now | Quote }}
        status: "True"
        reason: null
        type: Ready
      - lastTransitionTime: {{ $now | Quote }}
        status: "True"
        reason: null
        type: ContainersReady
      containerStatuses:
      {{ range .spec.containers }}
      {{ $name := .name }}
      {{ $startedAt := $now }}
      {{ range $statuses }}{{ if eq .name $name }}{{ with .state }}{{ with .running }}{{ $startedAt = .startedAt }}{{ end }}{{ end }}{{ end }}{{ end }}
      - image: {{ .image | Quote }}
        name: {{ .name | Quote }}
        ready: true
        started: true
        restartCount: 0
        state:
          running:
            startedAt: {{ $startedAt | Quote }}
      {{ end }}
---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: pod-ready-restarted
spec:
  resourceRef:
    apiGroup: v1
    kind: Pod
  selector:
    matchExpressions:
${COMMON}
${PENDING_NOT_READY}
    - key: '${imageTagged('restarted')}'
      operator: 'In'
      values: ['true']
  weight: 10000
  next:
    statusTemplate: |
      {{ $now := Now }}
      conditions:
      - lastTransitionTime: {{ $now | Quote }}
        status: "True"
        type: Initialized
      - lastTransitionTime: {{ $now | Quote }}
        status: "True"
        type: Ready
      - lastTransitionTime: {{ $now | Quote }}
        status: "True"
        type: ContainersReady
      containerStatuses:
      {{ range .spec.containers }}
      - image: {{ .image | Quote }}
        name: {{ .name | Quote }}
        ready: true
        started: true
        restartCount: 1
        state:
          running:
            startedAt: {{ $now | Quote }}
        lastState:
          terminated:
            exitCode: 1
            reason: Error
            startedAt: {{ $now | Quote }}
            finishedAt: {{ $now | Quote }}
      {{ end }}
${IPS}
      phase: Running
      startTime: {{ $now | Quote }}
`,
  );
}
