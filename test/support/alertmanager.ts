import { writeFileSync } from 'node:fs';
import { alertmanagerConfig } from './world/services.js';
import type { WorldInfo } from './world/world.js';

/** Points the world's Alertmanager at a webhook (rewrites its config and reloads it, as an operator would). */
export async function setAlertWebhook(world: WorldInfo, url: string, bearerToken: string): Promise<void> {
  writeFileSync(world.alertmanagerConfigFile, alertmanagerConfig(url, bearerToken));
  const res = await fetch(`${world.alertmanagerUrl}/-/reload`, { method: 'POST' });
  if (!res.ok) throw new Error(`alertmanager reload failed: ${res.status} ${await res.text()}`);
}
