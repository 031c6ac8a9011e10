// Alertmanager's webhook payload, version 4, validated before anything reads it.
// Unknown fields are allowed: Alertmanager adds fields over time.
import { z } from 'zod';

const Labels = z.record(z.string(), z.string());

export const AlertSchema = z.object({
  status: z.enum(['firing', 'resolved']),
  labels: Labels,
  annotations: Labels.default({}),
  startsAt: z.string().optional(),
  endsAt: z.string().optional(),
  generatorURL: z.string().optional(),
  fingerprint: z.string().optional(),
});
export type Alert = z.infer<typeof AlertSchema>;

export const AlertmanagerPayloadSchema = z.object({
  version: z.literal('4', { error: 'must be "4" (Alertmanager webhook payload version 4)' }),
  groupKey: z.string().optional(),
  truncatedAlerts: z.number().int().nonnegative().optional(),
  status: z.enum(['firing', 'resolved']),
  receiver: z.string().optional(),
  groupLabels: Labels.default({}),
  commonLabels: Labels.default({}),
  commonAnnotations: Labels.default({}),
  externalURL: z.string().optional(),
  alerts: z.array(AlertSchema).max(10_000),
});
export type AlertmanagerPayload = z.infer<typeof AlertmanagerPayloadSchema>;

/** "alerts[2].labels: expected record, received string" — one line for a 400 answer. */
export function describePayloadError(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return 'invalid payload';
  const path = issue.path
    .map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`))
    .join('')
    .replace(/^\./, '');
  return `${path || 'payload'}: ${issue.message}`;
}
