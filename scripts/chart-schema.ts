// The chart's values.schema.json and its README's values table, generated: helm then rejects
// an unknown key or a wrong type before anything is installed, in `config` too, because that
// part is the guard's own configuration schema (src/config/schema.ts) as JSON Schema.
// test/unit/chart-schema.test.ts fails when the committed files are stale.
//
//   npm run chart:schema
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { z } from 'zod';
import { CLUSTER_BLOCKS, ConfigSchema } from '../src/config/schema.js';

const CHART = fileURLToPath(new URL('../helm/etcd-space-guard/', import.meta.url));
export const SCHEMA_FILE = `${CHART}values.schema.json`;
export const README_FILE = `${CHART}README.md`;
const RULES_FILE = `${CHART}files/prometheus-rules.yml`;

type Json = Record<string, unknown>;

/** The alerts files/prometheus-rules.yml ships: the keys of prometheusRule.disabled and .rules. */
function shippedAlerts(): [string, ...string[]] {
  const rules = parse(readFileSync(RULES_FILE, 'utf8')) as { groups: { rules: Json[] }[] };
  const names = rules.groups.flatMap((g) => g.rules.map((r) => String(r.alert)));
  return names as [string, ...string[]];
}

const text = (description: string) => z.string().meta({ description });
const flag = (description: string) => z.boolean().meta({ description });
const labels = (description: string) => z.record(z.string(), z.string()).meta({ description });
/** A Kubernetes (or Operator) object or list, passed through: the API server validates it. */
const object = (description: string) => z.record(z.string(), z.unknown()).meta({ description });
const list = (description: string) => z.array(z.unknown()).meta({ description });
const port = z.int().min(1).max(65535);

function chartValues(alerts: [string, ...string[]]) {
  const alert = z.enum(alerts);
  const ruleOverride = z.strictObject({
    for: z.string().optional(),
    severity: z.string().optional(),
    expr: z.string().optional(),
    labels: z.record(z.string(), z.string()).optional(),
    annotations: z.record(z.string(), z.string()).optional(),
  });
  return z.strictObject({
    global: z
      .looseObject({ imageRegistry: text('Overrides image.registry (as a subchart)').optional() })
      .meta({ description: "A parent chart's global values" }),
    nameOverride: text('Replaces the chart name in object names'),
    fullnameOverride: text('Replaces the release-qualified object name'),
    namespaceOverride: text("The namespace of every object; empty: the release's"),
    commonLabels: labels('Labels added to every object'),
    image: z.strictObject({
      registry: text('Registry host; ignored when repository starts with one'),
      repository: text('Image repository; no image is published yet: push your own'),
      tag: text("Image tag; empty: the chart's appVersion"),
      digest: text('sha256:... digest; when set, tag is ignored'),
      pullPolicy: z.enum(['Always', 'IfNotPresent', 'Never']).meta({ description: 'Pull policy' }),
    }),
    imagePullSecrets: list('Secrets to pull the image with'),
    // Replaced by the guard's configuration schema (configSchema) in the JSON.
    config: z.record(z.string(), z.unknown()).meta({
      description:
        "The guard's configuration file (docs/configuration.md); listen's port is the container port",
    }),
    etcdTls: z.strictObject({
      existingSecret: text('Secret with ca.crt, tls.crt, tls.key for etcd'),
    }),
    webhook: z.strictObject({
      existingSecret: text("Secret holding Alertmanager's bearer token"),
      existingSecretKey: text('Key of the token in existingSecret'),
      token: text('The token, when the chart creates the Secret'),
    }),
    webConfig: z.strictObject({
      existingSecret: text('Secret with an exporter-toolkit web config (TLS, basic auth)'),
      secretKey: text('Key of the web config in existingSecret'),
      tlsSecret: text('TLS Secret mounted at /etc/etcd-space-guard/web-tls'),
      tls: flag('The web config has tls_server_config: HTTPS probes and scrapes'),
      clientCertRequired: flag('The web config requires client certificates: TCP probes'),
      basicAuth: flag('The web config has basic_auth_users: TCP probes, no token needed'),
    }),
    persistence: z.strictObject({
      enabled: flag('A PVC for snapshots and the run history (else emptyDir)'),
      existingClaim: text('Use this PVC instead of creating one'),
      storageClass: text('StorageClass of the created PVC'),
      accessModes: z.array(z.string()).meta({ description: 'Access modes of the created PVC' }),
      size: text('Size: keep + 1 snapshots of a full database'),
    }),
    service: z.strictObject({
      type: z.enum(['ClusterIP', 'NodePort', 'LoadBalancer']).meta({ description: 'Service type' }),
      port: port.meta({ description: 'Service port (targets config.listen)' }),
      annotations: labels('Service annotations'),
      labels: labels('Service labels'),
    }),
    serviceMonitor: z.strictObject({
      enabled: flag('Render a ServiceMonitor (Prometheus Operator)'),
      namespace: text("Its namespace; empty: the release's"),
      additionalLabels: labels('Labels, e.g. { release: kube-prometheus-stack }'),
      jobLabel: text('Service label whose value is the job; empty: job="space-guard"'),
      interval: text('Scrape interval'),
      scrapeTimeout: text('Scrape timeout'),
      scheme: z
        .enum(['', 'http', 'https'])
        .meta({ description: 'Empty: https with webConfig.tls' }),
      tlsConfig: object("The Operator's scrape TLS settings"),
      basicAuth: object('Secret keys of a web user, for the scrape'),
      honorLabels: flag(
        "Keep the scraped labels on conflict (the chart's relabeling makes both safe)",
      ),
      relabelings: list('Added relabelings, before the scrape'),
      metricRelabelings: list('Relabelings of the scraped samples'),
      targetLabels: z.array(z.string()).meta({ description: 'Service labels copied onto series' }),
    }),
    prometheusRule: z.strictObject({
      enabled: flag('Render the shipped alerts as a PrometheusRule'),
      namespace: text("Its namespace; empty: the release's"),
      additionalLabels: labels('Labels of the PrometheusRule'),
      etcdMixinOverlap: flag(
        'Keep the 3 alerts the etcd mixin also has (false with kube-prometheus-stack)',
      ),
      disabled: z
        .partialRecord(alert, z.boolean())
        .meta({ description: 'Alerts to leave out, e.g. { EtcdSpaceVersionHazard: true }' }),
      rules: z
        .partialRecord(alert, ruleOverride)
        .meta({ description: 'Per alert: for, severity, expr, labels, annotations' }),
      additionalRuleLabels: labels('Labels added to every alert'),
      additionalRuleAnnotations: labels('Annotations added to every alert'),
    }),
    dashboard: z.strictObject({
      enabled: flag("The Grafana dashboard as a ConfigMap for Grafana's sidecar"),
      labels: labels('Its labels (the sidecar selects on them)'),
      annotations: labels('Its annotations'),
    }),
    serviceAccount: z.strictObject({
      create: flag('Create a ServiceAccount (the guard uses no Kubernetes API)'),
      name: text('Its name; empty: the full name'),
      annotations: labels('Its annotations'),
    }),
    podAnnotations: labels('Pod annotations'),
    podLabels: labels('Pod labels'),
    podSecurityContext: object('Pod securityContext'),
    securityContext: object('Container securityContext'),
    resources: object('Container resources'),
    startupProbe: object('Startup probe; {} leaves it out'),
    livenessProbe: object('Liveness probe'),
    readinessProbe: object('Readiness probe'),
    terminationGracePeriodSeconds: z
      .int()
      .min(0)
      .meta({ description: 'Time to finish the step in flight on SIGTERM' }),
    revisionHistoryLimit: z.int().min(0).meta({ description: 'Old ReplicaSets kept' }),
    priorityClassName: text('Pod priorityClassName'),
    extraArgs: z.array(z.string()).meta({ description: 'Arguments added after serve --config' }),
    extraEnv: list('Container env'),
    extraEnvFrom: list('Container envFrom'),
    extraVolumes: list('Pod volumes, e.g. a hooks script'),
    extraVolumeMounts: list('Container volumeMounts'),
    nodeSelector: labels('Pod nodeSelector'),
    tolerations: list('Pod tolerations'),
    affinity: object('Pod affinity'),
    topologySpreadConstraints: list('Pod topologySpreadConstraints'),
    tests: z.strictObject({ enabled: flag('`helm test` pod that reads /metrics') }),
  });
}

/** Drops `required` at every level: a cluster's override needs only the keys it changes. */
function optionalEverywhere(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(optionalEverywhere);
  if (schema === null || typeof schema !== 'object') return schema;
  return Object.fromEntries(
    Object.entries(schema)
      .filter(([key]) => key !== 'required' && key !== 'default')
      .map(([key, value]) => [key, optionalEverywhere(value)]),
  );
}

/**
 * ConfigSchema as JSON Schema, as a file is written (io: input: sizes and durations as numbers
 * or strings). zod accepts any keys in a cluster's overrides (clusters[].policy, ...) and checks
 * them once merged over the global block; here they get the global block's schema, with no key
 * required, so a typo there fails too. Refinements (URLs, unique names) stay the guard's job.
 */
function configSchema(): Json {
  const json = z.toJSONSchema(ConfigSchema, { io: 'input', target: 'draft-7' }) as Json;
  delete json.$schema;
  const properties = json.properties as Record<string, Json>;
  const clusters = properties.clusters!.items as { properties: Record<string, unknown> };
  for (const block of CLUSTER_BLOCKS)
    clusters.properties[block] = optionalEverywhere(properties[block]);
  return json;
}

function chartSchema(): Json {
  const json = z.toJSONSchema(chartValues(shippedAlerts()), { io: 'input', target: 'draft-7' });
  const properties = json.properties as Record<string, Json>;
  properties.config = { description: properties.config!.description, ...configSchema() };
  return { ...json, title: 'etcd-space-guard chart values' };
}

/** values.schema.json as it must be committed. */
export function valuesSchema(): string {
  return `${JSON.stringify(chartSchema(), null, 2)}\n`;
}

const MARK_START = '<!-- values: generated by npm run chart:schema -->';
const MARK_END = '<!-- values: end -->';

interface Row {
  key: string;
  type: string;
  description: string;
}

/** One row per value: nested blocks are walked, maps and lists are leaves (config is one row). */
interface Property {
  type?: string;
  description?: string;
  enum?: unknown[];
  properties?: Record<string, Property>;
  additionalProperties?: unknown;
}

function rows(schema: Property, prefix = ''): Row[] {
  const properties = schema.properties ?? {};
  return Object.entries(properties).flatMap(([name, property]) => {
    const key = prefix + name;
    const nested = property.type === 'object' && property.properties && name !== 'config';
    if (nested && property.additionalProperties === false) return rows(property, `${key}.`);
    const type = Array.isArray(property.enum)
      ? property.enum.map((v) => JSON.stringify(v)).join(' \\| ')
      : (property.type ?? 'any');
    return [{ key, type, description: property.description ?? '' }];
  });
}

function defaultOf(values: unknown, key: string): string {
  const value = key.split('.').reduce<unknown>((node, part) => (node as Json)?.[part], values);
  if (key === 'config') return 'see values.yaml';
  const shown = JSON.stringify(value);
  return shown === undefined ? '' : `\`${shown.replaceAll('|', '\\|')}\``;
}

/** The chart README with its values table (between the markers) regenerated. */
export function readmeWithValues(readme: string): string {
  const start = readme.indexOf(MARK_START);
  const end = readme.indexOf(MARK_END);
  if (start < 0 || end < start) throw new Error(`${README_FILE} lacks the values table markers`);
  const values = parse(readFileSync(`${CHART}values.yaml`, 'utf8')) as unknown;
  const table = [
    '| Key | Type | Default | Description |',
    '| --- | --- | --- | --- |',
    ...rows(chartSchema() as Property).map(
      (r) => `| \`${r.key}\` | ${r.type} | ${defaultOf(values, r.key)} | ${r.description} |`,
    ),
  ];
  return `${readme.slice(0, start + MARK_START.length)}\n\n${table.join('\n')}\n\n${readme.slice(end)}`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  writeFileSync(SCHEMA_FILE, valuesSchema());
  writeFileSync(README_FILE, readmeWithValues(readFileSync(README_FILE, 'utf8')));
  console.log(`wrote ${SCHEMA_FILE} and the values table of ${README_FILE}`);
}
