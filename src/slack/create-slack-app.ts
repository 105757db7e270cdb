// The Bolt app: Socket Mode when an app-level token is given, otherwise HTTP with signed requests.
// /health and /ready are served on the same port in both modes (the probes of the procedure).
// Everything Bolt sends to Slack passes the redactor (outbound-fetch.ts), everything it logs goes to
// the bot's redacting logger, and requests from another workspace or app stop at pinWorkspace.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { App, LogLevel } from '@slack/bolt';
import type { Catalog } from '../config/catalog-schema.js';
import { createRedactor, type Redactor } from '../redact.js';
import type { Pauses } from '../rollback/pauses.js';
import { type Logger, silentLogger, systemClock } from '../rollback/ports.js';
import type { Runner } from '../rollback/runner.js';
import { createAppHome } from './app-home.js';
import { createBoltLogger } from './bolt-logger.js';
import { createDirectory } from './directory.js';
import { createActionRouter } from './listeners/action-router.js';
import { registerCleanupAction } from './listeners/cleanup-action.js';
import { registerDecisionActions } from './listeners/decision-actions.js';
import { registerPauseActions } from './listeners/pause-actions.js';
import { registerRollbackCommand } from './listeners/rollback-command.js';
import { registerRollbackModal } from './listeners/rollback-modal.js';
import { registerUndoAction } from './listeners/undo-action.js';
import { pinWorkspace } from './middleware/pin-workspace.js';
import type { RootPoster } from './notifier.js';
import { type CallCounter, createOutboundFetch } from './outbound-fetch.js';

export interface SlackSettings {
  botToken: string;
  appToken?: string;
  signingSecret?: string;
  port: number;
  /** For the emulator in tests; Slack's own API otherwise. */
  slackApiUrl?: string;
  /** Only requests from this workspace (T…) or org (E…) are served (SLACK_TEAM_ID). */
  teamId?: string;
  /** Only requests for this app (A…) are served (SLACK_APP_ID). */
  appId?: string;
  /** Masks secrets in everything sent to Slack and logged by Bolt (default: patterns only). */
  redactor?: Redactor;
  /** Where Bolt's own log lines go (default: nowhere). */
  logger?: Logger;
  /** Counts every Slack call by method and outcome (the bot's /metrics). */
  countCall?: CallCounter;
}

export interface ExtraRoute {
  path: string;
  method: string;
  handler: (req: IncomingMessage, res: ServerResponse) => void;
}

export interface Readiness {
  /** Each dependency's check; any failure makes /ready answer 503 with the reasons. */
  check(): Promise<{ ok: boolean; checks: Record<string, string> }>;
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

export function createSlackApp(s: SlackSettings, readiness: Readiness, extraRoutes: ExtraRoute[] = []) {
  const customRoutes = [
    {
      path: '/health',
      method: 'GET',
      handler: (_req: IncomingMessage, res: ServerResponse) => json(res, 200, { status: 'ok' }),
    },
    {
      path: '/ready',
      method: 'GET',
      handler: (_req: IncomingMessage, res: ServerResponse) => {
        readiness.check().then(
          (r) => json(res, r.ok ? 200 : 503, r),
          (err: unknown) => json(res, 503, { ok: false, error: (err as Error).message }),
        );
      },
    },
    ...extraRoutes,
  ];
  const redactor = s.redactor ?? createRedactor();
  const boltLogger = createBoltLogger(s.logger ?? silentLogger, redactor.redact, LogLevel.WARN);
  const clientOptions = {
    ...(s.slackApiUrl ? { slackApiUrl: s.slackApiUrl } : {}),
    fetch: createOutboundFetch(redactor, globalThis.fetch, s.countCall),
    // A rollback must not wait on Slack: every call has a deadline (10 s per attempt), and a few
    // retries honour Retry-After on 429. Steps never wait for these calls (the outbox delivers them).
    timeout: 10_000,
    retryConfig: { retries: 5, factor: 2, minTimeout: 500, maxTimeout: 10_000 },
  };
  // Bolt's default conversation store is an in-memory map read for every request; the bot keeps its
  // state in Redis and never reads it. Each miss builds and throws an Error (a stack trace per
  // request): about a tenth of the bot's CPU per command under a burst of them (npm run bench, ack).
  const common = {
    customRoutes,
    clientOptions,
    logger: boltLogger,
    logLevel: LogLevel.WARN,
    convoStore: false,
  } as const;
  const app = s.appToken
    ? new App({
        ...common,
        token: s.botToken,
        appToken: s.appToken,
        socketMode: true,
        installerOptions: { port: s.port },
      })
    : new App({ ...common, token: s.botToken, signingSecret: s.signingSecret ?? '', port: s.port });
  if (s.teamId || s.appId) {
    app.use(
      pinWorkspace(
        { ...(s.teamId ? { teamId: s.teamId } : {}), ...(s.appId ? { appId: s.appId } : {}) },
        s.logger ?? silentLogger,
      ),
    );
  }
  return {
    app,
    client: app.client,
    /** Registers the listeners once the runner exists (the runner needs the notifier, which needs the client). */
    listen(runner: Runner, catalog: Catalog, logger: Logger, postRoot: RootPoster, pauses: Pauses) {
      const directory = createDirectory(app.client);
      const home = createAppHome({ client: app.client, runner, pauses, catalog, clock: systemClock, logger });
      home.register(app);
      const changed = home.changed;
      const actions = createActionRouter(app);
      registerRollbackCommand(app, { runner, catalog, logger, directory, postRoot, pauses, changed });
      registerPauseActions(actions, { pauses, catalog, logger, directory, changed });
      registerRollbackModal(app, actions, { runner, catalog, logger, postRoot });
      registerDecisionActions(actions, { runner, catalog, logger, directory });
      registerCleanupAction(actions, { runner, catalog, logger, directory });
      registerUndoAction(actions, { runner, catalog, logger, directory, postRoot });
      return home;
    },
    start: () => app.start(),
    stop: () => app.stop(),
  };
}
