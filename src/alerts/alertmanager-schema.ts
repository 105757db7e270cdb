// Alertmanager's webhook body, version "4". Unknown fields are kept (newer Alertmanagers add
// notification_reason, routeLabels, …); the fields the bot relies on are checked.
import { z } from 'zod';

const labels = z.record(z.string(), z.string());

export const alertSchema = z.looseObject({
  status: z.enum(['firing', 'resolved']),
  labels,
  annotations: labels.default({}),
  startsAt: z.string().min(1),
  endsAt: z.string().optional(),
  generatorURL: z.string().optional(),
  fingerprint: z.string().min(1).max(64),
});

export const webhookSchema = z.looseObject({
  version: z.literal('4'),
  groupKey: z.string(),
  status: z.enum(['firing', 'resolved']),
  receiver: z.string(),
  groupLabels: labels.default({}),
  commonLabels: labels.default({}),
  commonAnnotations: labels.default({}),
  externalURL: z.string().optional(),
  truncatedAlerts: z.number().int().nonnegative().optional(),
  alerts: z.array(alertSchema).max(10_000),
});

export type AlertmanagerWebhook = z.infer<typeof webhookSchema>;
export type AlertmanagerAlert = z.infer<typeof alertSchema>;
