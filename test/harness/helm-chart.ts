// The chart as helm renders it, and the rendered objects checked against the Kubernetes and
// Prometheus Operator schemas (npm kubernetes-models): types, required fields, and fields
// that do not exist, which those validators let through.
import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PrometheusRule } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule';
import { ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { PersistentVolumeClaim } from 'kubernetes-models/v1/PersistentVolumeClaim';
import { Pod } from 'kubernetes-models/v1/Pod';
import { Secret } from 'kubernetes-models/v1/Secret';
import { Service } from 'kubernetes-models/v1/Service';
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import { parseAllDocuments } from 'yaml';
import { helmBinary } from '../../scripts/helm.js';

export const CHART = fileURLToPath(new URL('../../helm/etcd-space-guard', import.meta.url));
export const CI_VALUES = readdirSync(join(CHART, 'ci'))
  .filter((f) => f.endsWith('-values.yaml'))
  .map((f) => join(CHART, 'ci', f));

const HELM = await helmBinary();

export interface HelmResult {
  code: number | null;
  output: string;
}

/** helm with these arguments; output is stdout and stderr together. */
export function helm(args: string[]): Promise<HelmResult> {
  return new Promise((resolve, reject) => {
    execFile(HELM, args, { encoding: 'utf8', timeout: 30_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : null) : 0;
      if (err && code === null) reject(new Error(`helm ${args.join(' ')}`, { cause: err }));
      else resolve({ code, output: stdout + stderr });
    });
  });
}

/** `--set` and `-f` arguments: files by path, sets as "key=value". */
export function valueArgs(files: string[] = [], sets: string[] = []): string[] {
  return [...files.flatMap((f) => ['-f', f]), ...sets.flatMap((s) => ['--set', s])];
}

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> } & Record<
    string,
    unknown
  >;
  [key: string]: unknown;
}

const rendered = new Map<string, Promise<string>>();

/** The objects `helm template` renders (tests included); each set of values is rendered once. */
export async function render(files: string[] = [], sets: string[] = []): Promise<K8sObject[]> {
  const args = ['template', 'guard', CHART, '-n', 'monitoring', ...valueArgs(files, sets)];
  const key = JSON.stringify(args);
  if (!rendered.has(key)) {
    rendered.set(
      key,
      helm(args).then((result) => {
        if (result.code !== 0) throw new Error(`helm template failed:\n${result.output}`);
        return result.output;
      }),
    );
  }
  // Parsed anew each time: a test may change the objects it gets.
  return parseAllDocuments(await rendered.get(key)!)
    .map((doc) => doc.toJS() as K8sObject | null)
    .filter((o): o is K8sObject => o !== null);
}

export function find(objects: K8sObject[], kind: string, name?: string): K8sObject {
  const found = objects.find((o) => o.kind === kind && (!name || o.metadata.name === name));
  if (!found) throw new Error(`no ${kind}${name ? ` ${name}` : ''} rendered`);
  return found;
}

interface Validating {
  validate(): void;
}
type ModelClass = new (data: object) => Validating;

// The kinds the chart renders, imported one by one: the whole API loads a second slower.
const MODELS: Record<string, ModelClass> = Object.fromEntries(
  [
    ConfigMap,
    Deployment,
    PersistentVolumeClaim,
    Pod,
    PrometheusRule,
    Secret,
    Service,
    ServiceAccount,
    ServiceMonitor,
  ].map((model) => [`${model.apiVersion} ${model.kind}`, model as unknown as ModelClass]),
);

function modelOf(object: K8sObject): ModelClass {
  const model = MODELS[`${object.apiVersion} ${object.kind}`];
  if (!model) throw new Error(`no schema for ${object.apiVersion} ${object.kind}`);
  return model;
}

interface SchemaError {
  instancePath: string;
  message?: string;
}

function schemaErrors(model: ModelClass, object: object): SchemaError[] {
  try {
    new model(object).validate();
    return [];
  } catch (err) {
    const errors = (err as { errors?: SchemaError[] }).errors;
    if (!errors) throw err;
    return errors;
  }
}

const pointer = (path: string[]): string =>
  path.map((p) => `/${p.replaceAll('~', '~0').replaceAll('/', '~1')}`).join('');

type Node = Record<string, unknown>;

/**
 * Every object key under `node`, each put to a value of the wrong type in turn: a field the
 * schema knows is then reported at its path; a field it does not know is not. (The models
 * accept unknown fields; this finds them without a second copy of the schemas.)
 */
function unknownFields(model: ModelClass, root: object, node: unknown, path: string[]): string[] {
  if (Array.isArray(node))
    return node.flatMap((item, i) => unknownFields(model, root, item, [...path, String(i)]));
  if (node === null || typeof node !== 'object') return [];
  return Object.keys(node).flatMap((key) => {
    const here = [...path, key];
    const original = (node as Node)[key];
    (node as Node)[key] = Array.isArray(original) ? 'not-a-list' : [];
    const noticed = schemaErrors(model, root).some((e) => e.instancePath.startsWith(pointer(here)));
    (node as Node)[key] = original;
    return [...(noticed ? [] : [here.join('.')]), ...unknownFields(model, root, original, here)];
  });
}

/** What is wrong with a rendered object: schema errors, then fields no schema has. */
export function objectProblems(object: K8sObject): string[] {
  const model = modelOf(object);
  const copy = structuredClone(object);
  const errors = schemaErrors(model, copy).map((e) => `${e.instancePath} ${e.message ?? ''}`);
  if (errors.length > 0) return errors;
  return unknownFields(model, copy, copy, []).map((field) => `unknown field ${field}`);
}
