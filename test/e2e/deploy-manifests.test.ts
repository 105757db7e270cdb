// manifests/ as a user applies it: every object through the apiserver's own validation (server-side
// dry run, then for real), and the bot running on nothing but its ServiceAccount's token, which must
// be enough for a whole rollback and too little for anything else.
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { loadCatalog } from '../../src/config/load-catalog.js';
import { type BotProcess, startSlackBot } from '../support/bot-process.js';
import { PROMETHEUS_OPERATOR_CRDS, prometheusOperatorCrds } from '../support/crds.js';
import { worldCatalog } from '../support/engine.js';
import { eventually, kubectl, kubectlOk } from '../support/kubectl.js';
import {
  generationOf,
  imageOf,
  NAME,
  resourceBaseline,
  setDatabaseHead,
  shipReleases,
} from '../support/releases.js';
import { type SlackEmulator, startSlackEmulator } from '../support/slack-emulator/index.js';
import { hasButton, textOf } from '../support/slack-text.js';
import { buildAlertRules, PRODUCTION_TIMINGS } from '../support/world/prometheus-rules.js';

const world = inject('world');
const TARGET_NS = 'production';
const BOT_NS = 'rollback-bot';
const GOOD = 'registry.test/release-manager:v2024.01.14';
const BAD = 'registry.test/release-manager:v2024.01.15-bad';
const C = 'C0INCIDENTS';
const APPROVER = 'U0SRE00001';
const SECRET = 'manifests-signing-secret';

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
  // biome-ignore lint/suspicious/noExplicitAny: manifests are checked field by field below
  spec?: any;
  // biome-ignore lint/suspicious/noExplicitAny: as above
  rules?: any[];
}

const file = (name: string) => join('manifests', name);

/** The example catalog's StatefulSet (or a same-labelled uncatalogued one), two pods, fast to roll. */
const ledgerYaml = (image: string, name = 'ledger-prod') => `apiVersion: apps/v1
kind: StatefulSet
metadata: { name: ${name}, namespace: production }
spec:
  serviceName: ${name}
  replicas: 2
  podManagementPolicy: Parallel
  selector: { matchLabels: { app: ledger, instance: ${name} } }
  template:
    metadata: { labels: { app: ledger, instance: ${name} } }
    spec: { containers: [{ name: app, image: "${image}" }] }
`;
const run = (cmd: string, args: string[]) =>
  new Promise<{ code: number; output: string }>((resolve) =>
    execFile(cmd, args, (err, stdout, stderr) =>
      resolve({ code: err ? Number(err.code ?? 1) : 0, output: stdout + stderr }),
    ),
  );

describe('manifests/ on the test cluster', () => {
  let rendered: K8sObject[];
  let saKubeconfig: string | undefined;
  let emu: SlackEmulator | undefined;
  let bot: BotProcess | undefined;
  // Never fall back to the admin kubeconfig: a refusal test run as admin would prove nothing.
  const asBot = (args: string[]) => {
    if (!saKubeconfig) throw new Error("the ServiceAccount's kubeconfig is made by the rollback test above");
    return kubectl(world, args, undefined, { kubeconfig: saKubeconfig });
  };

  beforeAll(async () => {
    rendered = parseAllDocuments(await kubectlOk(world, ['kustomize', 'manifests/'])).map(
      (d) => d.toJS() as K8sObject,
    );
    // What a cluster that runs the bot already has: the services' namespace and the operator's CRD.
    await kubectlOk(world, ['create', 'namespace', TARGET_NS]);
    await kubectlOk(world, ['apply', '--server-side', '-f', '-'], prometheusOperatorCrds());
    await kubectlOk(world, [
      'wait',
      '--for=condition=Established',
      ...PROMETHEUS_OPERATOR_CRDS.map((c) => `crd/${c.name}`),
      '--timeout=60s',
    ]);
  });
  afterAll(async () => {
    await bot?.stop();
    await emu?.close();
    await kubectl(world, ['delete', 'namespace', '--wait=false', TARGET_NS, BOT_NS]);
  });

  it('renders with kustomize, and the apiserver accepts every object in a server-side dry run', async () => {
    expect(rendered.map((o) => o.kind).sort()).toEqual(
      [
        'ConfigMap',
        'Deployment',
        'Namespace',
        'NetworkPolicy',
        'NetworkPolicy',
        'NetworkPolicy',
        'PodDisruptionBudget',
        'PrometheusRule',
        'Role',
        'Role',
        'RoleBinding',
        'RoleBinding',
        'Service',
        'Service',
        'ServiceAccount',
        'ServiceMonitor',
        'StatefulSet',
      ].sort(),
    );
    // Namespaced objects can only be dry-run into a namespace that exists.
    await kubectlOk(world, ['apply', '--server-side', '-f', file('namespace.yaml')]);
    const dry = await kubectl(world, ['apply', '--server-side', '--dry-run=server', '-k', 'manifests/']);
    expect(dry.stderr).toBe('');
    expect(dry.code).toBe(0);
    expect(dry.stdout.trim().split('\n')).toHaveLength(rendered.length);
    expect(dry.stdout).not.toMatch(/unchanged|configured/);
    const secret = await kubectl(world, ['apply', '--dry-run=server', '-f', file('secret.example.yaml')]);
    expect(secret.code, secret.stderr).toBe(0);
    // The dry run changed nothing.
    expect((await kubectl(world, ['get', 'deployment', 'rollback-bot', '-n', BOT_NS])).code).not.toBe(0);
  });

  it('ships the catalog in the ConfigMap, and a Role that names exactly its Deployments', () => {
    const catalog = loadCatalog(file('catalog.yaml'));
    const cm = rendered.find((o) => o.kind === 'ConfigMap') as K8sObject & { data: Record<string, string> };
    expect(cm.data['catalog.yaml']).toBe(readFileSync(file('catalog.yaml'), 'utf8'));

    const namespaces = new Set([...catalog.services.values()].map((s) => s.namespace));
    const plural = {
      Deployment: 'deployments',
      StatefulSet: 'statefulsets',
      DaemonSet: 'daemonsets',
    } as const;
    const kinds = new Set([...catalog.services.values()].map((s) => s.kind));
    // The example catalog has more than Deployments, so the per-kind rules are really checked.
    expect([...kinds].sort()).toEqual(['Deployment', 'StatefulSet']);
    for (const ns of namespaces) {
      const role = rendered.find(
        (o) => o.kind === 'Role' && o.metadata.name === 'rollback-bot' && o.metadata.namespace === ns,
      );
      for (const kind of ['Deployment', 'StatefulSet', 'DaemonSet'] as const) {
        const names = [...catalog.services.values()]
          .filter((s) => s.namespace === ns && s.kind === kind)
          .map((s) => s.deployment);
        const rule = role?.rules?.find((r) => r.resources.includes(plural[kind]));
        if (names.length === 0) {
          expect(rule, `${kind} rule without a catalogued ${kind}`).toBeUndefined();
          continue;
        }
        expect(rule?.resources).toEqual([plural[kind]]);
        expect(rule?.resourceNames?.sort()).toEqual(names.sort());
        expect(rule?.verbs.sort()).toEqual(['get', 'list', 'patch', 'watch']);
      }
      const history = role?.rules?.find((r) => r.resources.includes('controllerrevisions'));
      expect(history?.verbs.sort()).toEqual(['get', 'list', 'watch']);
    }
    const rules = rendered.filter((o) => o.kind === 'Role').flatMap((o) => o.rules ?? []);
    const granted = rules.flatMap((r) => r.resources as string[]);
    expect(granted).not.toContain('secrets');
    expect(granted).not.toContain('configmaps');
    expect(JSON.stringify(rules)).not.toContain('*');
    // Only the named Deployments may be changed; everything else is read-only (exec excepted).
    for (const r of rules) {
      const writes = (r.verbs as string[]).filter((v) => !['get', 'list', 'watch'].includes(v));
      if (writes.length === 0) continue;
      if (r.resources.includes('pods/exec')) expect(writes).toEqual(['create']);
      else if (r.resources.includes('jobs')) expect(writes.sort()).toEqual(['create', 'delete']);
      else expect(r.resourceNames?.length).toBeGreaterThan(0);
    }
  });

  it('has the procedure rules in the PrometheusRule, valid for promtool, and a receiver valid for amtool', async () => {
    const rule = rendered.find((o) => o.kind === 'PrometheusRule');
    expect(rule?.spec.groups).toEqual(parse(buildAlertRules(PRODUCTION_TIMINGS)).groups);
    const rulesFile = join(world.root, 'manifests-rules.yaml');
    writeFileSync(rulesFile, stringify({ groups: rule?.spec.groups }));
    const promtool = await run('promtool', ['check', 'rules', rulesFile]);
    expect(promtool.code, promtool.output).toBe(0);
    expect(promtool.output).toContain('4 rules found');

    const amtool = await run('amtool', ['check-config', file('alertmanager-receiver.yaml')]);
    expect(amtool.code, amtool.output).toBe(0);
    const am = parse(readFileSync(file('alertmanager-receiver.yaml'), 'utf8'));
    const hook = am.receivers.find((r: { name: string }) => r.name === 'rollback-bot').webhook_configs[0];
    expect(hook.url).toBe('http://rollback-bot.rollback-bot.svc:8080/alerts');
    expect(hook.http_config.authorization.type).toBe('Bearer');
  });

  it("applies for real: the bot's pods pass the restricted Pod Security profile and probe /health and /ready", async () => {
    await kubectlOk(world, ['apply', '--server-side', '-k', 'manifests/']);
    const pods = await eventually(
      "the bot's two pods",
      async () => {
        const list = JSON.parse(
          await kubectlOk(world, [
            'get',
            'pods',
            '-n',
            BOT_NS,
            '-l',
            'app.kubernetes.io/name=rollback-bot',
            '-o',
            'json',
          ]),
        ).items;
        return list.length === 2 ? list : undefined;
      },
      60_000,
    );
    // Pod Security admission refuses non-compliant pods at creation, so two pods exist only if both are restricted-clean.
    const events = await kubectlOk(world, [
      'get',
      'events',
      '-n',
      BOT_NS,
      '--field-selector',
      'reason=FailedCreate',
    ]);
    expect(events).not.toContain('violates PodSecurity');
    const c = pods[0].spec.containers[0];
    expect(c.readinessProbe.httpGet).toEqual({ path: '/ready', port: 'http', scheme: 'HTTP' });
    expect(c.livenessProbe.httpGet).toEqual({ path: '/health', port: 'http', scheme: 'HTTP' });
    expect(c.ports[0].containerPort).toBe(8080);
    expect(c.securityContext.readOnlyRootFilesystem).toBe(true);
    // The image's USER (Dockerfile) is the uid the Deployment promises to run as.
    const user = /^USER\s+(\d+)/m.exec(readFileSync('Dockerfile', 'utf8'))?.[1];
    expect(String(pods[0].spec.securityContext.runAsUser)).toBe(user);
  });

  it("runs a whole rollback on the ServiceAccount's own token: watch → propose → approve → verified", async () => {
    const token = (
      await kubectlOk(world, ['create', 'token', 'rollback-bot', '-n', BOT_NS, '--duration=1h'])
    ).trim();
    const admin = parse(readFileSync(world.kubeconfig, 'utf8'));
    saKubeconfig = join(world.root, 'kubeconfig-rollback-bot-sa');
    writeFileSync(
      saKubeconfig,
      stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: admin.clusters,
        users: [{ name: 'rollback-bot', user: { token } }],
        contexts: [{ name: 'sa', context: { cluster: admin.clusters[0].name, user: 'rollback-bot' } }],
        'current-context': 'sa',
      }),
    );
    const whoami = await asBot(['auth', 'whoami', '-o', 'jsonpath={.status.userInfo.username}']);
    expect(whoami.stdout).toBe('system:serviceaccount:rollback-bot:rollback-bot');

    await setDatabaseHead(world, 'aaa111');
    const good = { image: GOOD, cause: 'Release v2024.01.14', head: 'aaa111' };
    await shipReleases(world, TARGET_NS, [good]);
    // The bad release ships below by hand: let the good one run long enough to be the resources' baseline.
    await resourceBaseline(world, TARGET_NS, good);
    emu = await startSlackEmulator({
      botToken: 'xoxb-manifests',
      signingSecret: SECRET,
      users: [{ id: APPROVER, name: 'alice' }],
      channels: [{ id: C, name: 'incidents', members: [APPROVER] }],
    });
    // The shipped catalog, pointed at the world's stand-in service and its short test windows.
    const catalog = worldCatalog(world, TARGET_NS, (svc) => {
      svc.channel = C;
      svc.approvers = { users: [APPROVER], groups: [], requireSecondPerson: false, expireMinutes: 60 };
      svc.notify = {};
    });
    bot = await startSlackBot(world, {
      slack: emu,
      botToken: 'xoxb-manifests',
      signingSecret: SECRET,
      catalog,
      name: 'manifests-sa',
      env: { KUBECONFIG: saKubeconfig, WATCH_TRIGGERS: 'true' },
    });
    const generationBefore = await generationOf(world, TARGET_NS);
    await kubectlOk(world, ['set', 'image', `deployment/${NAME}`, '-n', TARGET_NS, `app=${BAD}`]);

    // The watch triggers (informers on the named Deployment and the pods) see the crash loop.
    const slack = emu;
    const running = bot;
    // The bot's log, and what it said in Slack, in the failure message.
    const withLog = (err: Error) => {
      const said = slack
        .messages(C)
        .flatMap((m) => [m, ...slack.thread(C, m.ts)])
        .map(textOf);
      return running.explain(new Error(`${err.message}\nthread:\n${said.join('\n')}`));
    };
    const root = await eventually('incident thread', async () => slack.messages(C)[0], 90_000).catch(withLog);
    const proposal = await eventually(
      'assessment with Roll back',
      async () => slack.thread(C, root.ts).find((m) => hasButton(m, 'rollback_approve')),
      90_000,
    );
    expect(textOf(proposal)).toContain('CrashLoopBackOff');
    const click = await slack.clickButton({
      botUrl: `${bot.url}/slack/events`,
      channelId: C,
      messageTs: proposal.ts,
      actionId: 'rollback_approve',
      userId: APPROVER,
    });
    expect(click.status).toBe(200);
    await eventually(
      'rollback completed',
      async () => slack.thread(C, root.ts).some((m) => textOf(m).includes('complete and verified')),
      150_000,
    ).catch(withLog);
    const thread = slack.thread(C, root.ts).map(textOf).join('\n');
    expect(thread).toContain('complete and verified');
    expect(await imageOf(world, TARGET_NS)).toBe(GOOD);
    expect(await generationOf(world, TARGET_NS)).toBe(generationBefore + 2);
    const log = readFileSync(bot.logFile, 'utf8');
    expect(log).not.toMatch(/forbidden/i);
    expect(log).not.toMatch(/"level":"error"/);
  });

  it('refuses that token everything else: other Deployments, Secrets, other namespaces', async () => {
    await kubectlOk(world, [
      'create',
      'deployment',
      'billing',
      '-n',
      TARGET_NS,
      '--image=registry.test/billing:1',
    ]);
    const patch = ['-p', '{"spec":{"template":{"metadata":{"annotations":{"x":"y"}}}}}'];
    const denied: [string, string[]][] = [
      ['patch an uncatalogued Deployment', ['patch', 'deployment', 'billing', '-n', TARGET_NS, ...patch]],
      ['read an uncatalogued Deployment', ['get', 'deployment', 'billing', '-n', TARGET_NS]],
      ['list all Deployments', ['get', 'deployments', '-n', TARGET_NS]],
      ['read Secrets in the target namespace', ['get', 'secrets', '-n', TARGET_NS]],
      ['read Secrets in its own namespace', ['get', 'secrets', '-n', BOT_NS]],
      ['delete the catalogued Deployment', ['delete', 'deployment', NAME, '-n', TARGET_NS, '--wait=false']],
      ['scale the catalogued Deployment', ['scale', 'deployment', NAME, '-n', TARGET_NS, '--replicas=0']],
      ['patch a same-named Deployment elsewhere', ['patch', 'deployment', NAME, '-n', 'default', ...patch]],
      ['create pods', ['run', 'x', '-n', TARGET_NS, '--image=registry.test/x:1']],
      [
        'create a Job in another namespace',
        ['create', 'job', 'x', '-n', 'default', '--image=registry.test/x:1', '--dry-run=server'],
      ],
      ['list Jobs', ['get', 'jobs', '-n', TARGET_NS]],
    ];
    for (const [what, args] of denied) {
      const r = await asBot(args);
      expect(r.code, `${what} was allowed: ${r.stdout}`).not.toBe(0);
      expect(r.stderr, what).toMatch(/forbidden/i);
    }
    // StatefulSets: the catalogued one by name, its ControllerRevisions read-only, nothing else.
    await kubectlOk(world, ['apply', '-f', '-'], ledgerYaml('registry.test/ledger:1'));
    await kubectlOk(world, ['apply', '-f', '-'], ledgerYaml('registry.test/ledger:2'));
    await kubectlOk(world, ['apply', '-f', '-'], ledgerYaml('registry.test/ledger:1', 'other-ledger'));
    const revisions = await eventually('two ControllerRevisions of ledger-prod', async () => {
      const list = JSON.parse(
        await kubectlOk(world, [
          'get',
          'controllerrevisions',
          '-n',
          TARGET_NS,
          '-l',
          'app=ledger',
          '-o',
          'json',
        ]),
      ).items as { metadata: { name: string; ownerReferences?: { name: string }[] } }[];
      const own = list.filter((c) => c.metadata.ownerReferences?.[0]?.name === 'ledger-prod');
      return own.length === 2 ? own : undefined;
    });
    const cr = revisions[0]!.metadata.name;
    const stsDenied: [string, string[]][] = [
      [
        'patch an uncatalogued StatefulSet',
        ['patch', 'statefulset', 'other-ledger', '-n', TARGET_NS, ...patch],
      ],
      ['read an uncatalogued StatefulSet', ['get', 'statefulset', 'other-ledger', '-n', TARGET_NS]],
      ['list all StatefulSets', ['get', 'statefulsets', '-n', TARGET_NS]],
      [
        'delete the catalogued StatefulSet',
        ['delete', 'statefulset', 'ledger-prod', '-n', TARGET_NS, '--wait=false'],
      ],
      [
        'patch a ControllerRevision',
        [
          'patch',
          'controllerrevision',
          cr,
          '-n',
          TARGET_NS,
          '--type=merge',
          '-p',
          '{"metadata":{"labels":{"x":"y"}}}',
        ],
      ],
      ['delete a ControllerRevision', ['delete', 'controllerrevision', cr, '-n', TARGET_NS, '--wait=false']],
      ['list DaemonSets', ['get', 'daemonsets', '-n', TARGET_NS]],
    ];
    for (const [what, args] of stsDenied) {
      const r = await asBot(args);
      expect(r.code, `${what} was allowed: ${r.stdout}`).not.toBe(0);
      expect(r.stderr, what).toMatch(/forbidden/i);
    }
    // The control: kubectl's own undo of the catalogued StatefulSet works on the token (server dry run),
    // and its history is readable.
    const undo = await asBot([
      'rollout',
      'undo',
      'statefulset/ledger-prod',
      '-n',
      TARGET_NS,
      '--dry-run=server',
    ]);
    expect(undo.code, undo.stderr).toBe(0);
    const history = await asBot(['rollout', 'history', 'statefulset/ledger-prod', '-n', TARGET_NS]);
    expect(history.code, history.stderr).toBe(0);
    expect(history.stdout).toMatch(/^1\s/m);

    // The control: the same token may still patch the catalogued Deployment (server-side dry run).
    const allowed = await asBot(['patch', 'deployment', NAME, '-n', TARGET_NS, '--dry-run=server', ...patch]);
    expect(allowed.code, allowed.stderr).toBe(0);
    // And may run a migration Job in the services' namespace (server-side dry run).
    const job = await asBot([
      'create',
      'job',
      'rb-migrate-check',
      '-n',
      TARGET_NS,
      '--image=registry.test/release-manager:1',
      '--dry-run=server',
      '--',
      'alembic',
      'current',
    ]);
    expect(job.code, job.stderr).toBe(0);
  });
});
