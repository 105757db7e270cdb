// Stands in for the kubelet running a Job's container. KWOK only moves pods through states; upstream's
// pod-complete stage would mark a Job pod Succeeded the moment it is Running, whatever its command.
// Here (pod-complete is left out of KWOK's config) a Job pod, once KWOK reports its containers running,
// really runs each container's command + args on the host: as an argv (no shell), in the world's root,
// with exec-bin first on PATH and the same per-pod env as `kubectl exec` (pod-exec.ts: the image's
// migrations for `alembic`), under a timeout (the pod's activeDeadlineSeconds, else 10 minutes).
// Output goes to the pod's log file in CRI format as it is produced (KWOK's `Logs` object points there),
// and when every container has exited the pod's status is set as a kubelet sets it: phase Succeeded
// (all exit 0) or Failed, each container `terminated` with its exit code. The real Job controller in
// kube-controller-manager then marks the Job Complete or Failed (backoffLimit, retries) by itself.
// Limits: restartPolicy OnFailure is run once like Never (no in-place restart); no image entrypoint
// exists, so a container without command/args fails to start (exit 128, StartError), like a missing binary.
import { spawn } from 'node:child_process';
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type CoreV1Api, PatchStrategy, setHeaderOptions, type V1Pod } from '@kubernetes/client-node';
import { containerEnv, type ExecSettings } from './pod-exec.js';

export interface JobRunnerOptions extends ExecSettings {
  core: CoreV1Api;
  /** Directory of the world's fake tools (`alembic`), put first on PATH. */
  execBin: string;
  /** Where per-container log files go. */
  logDir: string;
  defaultTimeoutMs?: number;
}

interface Exit {
  exitCode: number;
  reason: 'Completed' | 'Error' | 'StartError';
  message?: string;
  startedAt: string;
  finishedAt: string;
}

export function isJobPod(pod: V1Pod): boolean {
  return (pod.metadata?.ownerReferences ?? []).some((r) => r.kind === 'Job' && r.controller !== false);
}

function criLine(stream: 'stdout' | 'stderr', text: string): string {
  return `${new Date().toISOString()} ${stream} F ${text}\n`;
}

export function createJobRunner(o: JobRunnerOptions) {
  const started = new Set<string>();
  const running = new Map<string, Set<ReturnType<typeof spawn>>>();
  mkdirSync(o.logDir, { recursive: true });

  function logFile(pod: V1Pod, container: string): string {
    const m = pod.metadata;
    return join(o.logDir, `${m?.namespace}_${m?.name}_${m?.uid}_${container}.log`);
  }

  /** The pod's log files, one per container (created empty so KWOK can serve them at once). */
  function logFiles(pod: V1Pod): { container: string; file: string }[] {
    return (pod.spec?.containers ?? []).map((c) => {
      const file = logFile(pod, c.name);
      writeFileSync(file, '', { flag: 'a' });
      return { container: c.name, file };
    });
  }

  function runContainer(pod: V1Pod, name: string, procs: Set<ReturnType<typeof spawn>>): Promise<Exit> {
    const c = pod.spec?.containers.find((x) => x.name === name);
    const argv = [...(c?.command ?? []), ...(c?.args ?? [])];
    const file = logFile(pod, name);
    const startedAt = new Date().toISOString();
    const end = (exitCode: number, reason: Exit['reason'], message?: string): Exit => ({
      exitCode,
      reason,
      ...(message ? { message } : {}),
      startedAt,
      finishedAt: new Date().toISOString(),
    });
    const [cmd, ...args] = argv;
    if (!cmd) return Promise.resolve(end(128, 'StartError', 'no command specified'));
    const deadline = pod.spec?.activeDeadlineSeconds;
    const timeoutMs = deadline ? deadline * 1000 : (o.defaultTimeoutMs ?? 10 * 60_000);
    return new Promise((resolve) => {
      const child = spawn(cmd, args, {
        cwd: o.workDir,
        env: {
          ...process.env,
          PATH: `${o.execBin}:${process.env.PATH ?? '/usr/bin:/bin'}`,
          ...containerEnv(pod, name, o),
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      procs.add(child);
      const pending = { stdout: '', stderr: '' };
      const take = (stream: 'stdout' | 'stderr', final: boolean) => (d?: Buffer) => {
        pending[stream] += d?.toString() ?? '';
        const lines = pending[stream].split('\n');
        pending[stream] = final ? '' : (lines.pop() ?? '');
        const out = lines.filter((l, i) => !(final && i === lines.length - 1 && l === ''));
        if (out.length) appendFileSync(file, out.map((l) => criLine(stream, l)).join(''));
      };
      child.stdout?.on('data', take('stdout', false));
      child.stderr?.on('data', take('stderr', false));
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      child.on('error', (err) => {
        clearTimeout(timer);
        procs.delete(child);
        // What runc says when the binary is missing (containerd prefixes more context).
        const why =
          (err as NodeJS.ErrnoException).code === 'ENOENT'
            ? 'executable file not found in $PATH'
            : err.message;
        resolve(end(128, 'StartError', `exec: "${cmd}": ${why}`));
      });
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        procs.delete(child);
        take('stdout', true)();
        take('stderr', true)();
        const exitCode = code ?? 128 + (signal === 'SIGKILL' ? 9 : 15);
        resolve(end(exitCode, exitCode === 0 ? 'Completed' : 'Error'));
      });
    });
  }

  async function run(pod: V1Pod): Promise<void> {
    const uid = pod.metadata?.uid ?? '';
    const procs = new Set<ReturnType<typeof spawn>>();
    running.set(uid, procs);
    const names = (pod.spec?.containers ?? []).map((c) => c.name);
    const exits = await Promise.all(names.map((n) => runContainer(pod, n, procs)));
    running.delete(uid);
    const now = new Date().toISOString();
    const before = new Map((pod.status?.containerStatuses ?? []).map((s) => [s.name, s]));
    const containerStatuses = names.map((name, i) => {
      const exit = exits[i] as Exit;
      return {
        name,
        image: before.get(name)?.image ?? pod.spec?.containers[i]?.image ?? '',
        imageID: before.get(name)?.imageID ?? '',
        ready: false,
        started: false,
        restartCount: before.get(name)?.restartCount ?? 0,
        // running: null removes KWOK's running state (strategic merge keeps fields not nulled).
        state: { running: null, terminated: exit },
      };
    });
    const failed = exits.some((e) => e.exitCode !== 0);
    const notReady = { status: 'False', reason: 'PodCompleted', lastTransitionTime: now };
    const body = {
      status: {
        phase: failed ? 'Failed' : 'Succeeded',
        conditions: [
          { type: 'Ready', ...notReady },
          { type: 'ContainersReady', ...notReady },
        ],
        containerStatuses,
      },
    };
    try {
      await o.core.patchNamespacedPodStatus(
        { name: pod.metadata?.name ?? '', namespace: pod.metadata?.namespace ?? '', body },
        setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
      );
    } catch (err) {
      // 404: the pod was deleted while its command ran (the Job was deleted or timed out); nothing to set.
      if ((err as { code?: number }).code !== 404)
        console.error(`job pod ${pod.metadata?.namespace}/${pod.metadata?.name}: ${(err as Error).message}`);
    }
  }

  return {
    logFiles,
    /** Called on every pod add/update: starts a Job pod's containers once KWOK has them running. */
    onPod(pod: V1Pod): void {
      const uid = pod.metadata?.uid;
      if (!uid || started.has(uid) || !isJobPod(pod) || pod.metadata?.deletionTimestamp) return;
      const statuses = pod.status?.containerStatuses ?? [];
      const all = pod.spec?.containers ?? [];
      if (pod.status?.phase !== 'Running' || statuses.length < all.length) return;
      if (!statuses.every((s) => s.state?.running)) return;
      started.add(uid);
      void run(pod);
    },
    /** A deleted (or deleting) pod's commands are stopped, as the kubelet kills its containers. */
    onDelete(pod: V1Pod): void {
      for (const child of running.get(pod.metadata?.uid ?? '') ?? []) child.kill('SIGTERM');
    },
  };
}
