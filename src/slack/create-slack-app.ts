// The Bolt app: Socket Mode when an app-level token is given, otherwise HTTP with signed requests.
// /health and /ready are served on the same port in both modes (the probes of the procedure).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { App, LogLevel } from '@slack/bolt';
import type { Catalog } from '../config/catalog-schema.js';
import type { Logger } from '../rollback/ports.js';
import type { Runner } from '../rollback/runner.js';
import { createDirectory } from './directory.js';
import { registerDecisionActions } from './listeners/decision-actions.js';
import { registerRollbackCommand } from './listeners/rollback-command.js';

export interface SlackSettings {
  botToken: string;
  appToken?: string;
  signingSecret?: string;
  port: number;
  /** For the emulator in tests; Slack's own API otherwise. */
  slackApiUrl?: string;
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
  const clientOptions = {
    ...(s.slackApiUrl ? { slackApiUrl: s.slackApiUrl } : {}),
    // A rollback must not wait on Slack: every call has a deadline (10 s per attempt), and a few
    // retries honour Retry-After on 429. Steps never wait for these calls (see the notifier).
    timeout: 10_000,
    retryConfig: { retries: 5, factor: 2, minTimeout: 500, maxTimeout: 10_000 },
  };
  const app = s.appToken
    ? new App({
        token: s.botToken,
        appToken: s.appToken,
        socketMode: true,
        customRoutes,
        installerOptions: { port: s.port },
        clientOptions,
        logLevel: LogLevel.WARN,
      })
    : new App({
        token: s.botToken,
        signingSecret: s.signingSecret ?? '',
        port: s.port,
        customRoutes,
        clientOptions,
        logLevel: LogLevel.WARN,
      });
  return {
    app,
    client: app.client,
    /** Registers the listeners once the runner exists (the runner needs the notifier, which needs the client). */
    listen(runner: Runner, catalog: Catalog, logger: Logger) {
      const directory = createDirectory(app.client);
      registerRollbackCommand(app, { runner, catalog, logger, directory });
      registerDecisionActions(app, { runner, catalog, logger, directory });
    },
    start: () => app.start(),
    stop: () => app.stop(),
  };
}
