// The Helm chart, checked without a helm binary: every .Values path a template
// uses exists in values.yaml, every file helm reads parses, and each template's
// static skeleton (template actions removed) is valid YAML with the properties
// the spec demands: one replica, Recreate, non-root, read-only root, probes, the
// mounts the default configuration points at, the web config's Secret and flag.
import { strict as assert } from 'node:assert';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { ConfigSchema } from '../../src/config/schema.js';

const CHART = fileURLToPath(new URL('../../helm/etcd-space-guard', import.meta.url));
const read = (path: string): string => readFileSync(join(CHART, path), 'utf8');
const templates = readdirSync(join(CHART, 'templates')).filter((f) => f.endsWith('.yaml'));
const values = parse(read('values.yaml')) as Record<string, unknown>;

type Yaml = Record<string, unknown>;

/** The template with its actions gone: control lines dropped, inline actions replaced by a scalar. */
function skeleton(file: string): Yaml {
  const lines = read(join('templates', file))
    .split('\n')
    .filter((line) => !/^\s*\{\{-?[^}]*-?\}\}\s*$/.test(line) && !/^\s*#/.test(line))
    .map((line) => line.replace(/\{\{-?.*?-?\}\}/g, 'x'));
  return parse(lines.join('\n')) as Yaml;
}

function at(object: unknown, path: string): unknown {
  return path
    .split('.')
    .reduce<unknown>(
      (node, key) => (node !== null && typeof node === 'object' ? (node as Yaml)[key] : undefined),
      object,
    );
}

function hasPath(object: unknown, path: string[]): boolean {
  let node = object;
  for (const key of path) {
    if (node === null || typeof node !== 'object' || !(key in node)) return false;
    node = (node as Yaml)[key];
  }
  return true;
}

interface Container {
  args: string[];
  volumeMounts: { name: string; mountPath: string }[];
}

interface Volume {
  name: string;
  secret?: { secretName: string; items?: { key: string; path: string }[] };
}

describe('Helm chart helm/etcd-space-guard', () => {
  it('Chart.yaml is a v2 application chart whose appVersion is the package version', () => {
    const chart = parse(read('Chart.yaml')) as Yaml;
    const pkg = JSON.parse(
      readFileSync(fileURLToPath(new URL('../../package.json', import.meta.url)), 'utf8'),
    ) as { version: string };
    assert.equal(chart.apiVersion, 'v2');
    assert.equal(chart.name, 'etcd-space-guard');
    assert.equal(chart.appVersion, pkg.version);
    assert.match(String(chart.version), /^\d+\.\d+\.\d+$/);
  });

  it('every .Values path used by a template exists in values.yaml', () => {
    const missing: string[] = [];
    for (const file of [...templates, '_helpers.tpl', 'NOTES.txt']) {
      for (const match of read(join('templates', file)).matchAll(
        /\.Values((?:\.[A-Za-z_][A-Za-z0-9_]*)+)/g,
      )) {
        const path = match[1]!.slice(1).split('.');
        if (!hasPath(values, path)) missing.push(`${file}: .Values.${path.join('.')}`);
      }
    }
    assert.deepEqual(missing, []);
  });

  it('every if/with/range/define block is closed', () => {
    for (const file of [...templates, '_helpers.tpl', 'NOTES.txt']) {
      const text = read(join('templates', file));
      const opened = text.match(/\{\{-?\s*(if|with|range|define)\b/g)?.length ?? 0;
      const closed = text.match(/\{\{-?\s*end\s*-?\}\}/g)?.length ?? 0;
      assert.equal(opened, closed, `${file}: ${opened} blocks opened, ${closed} closed`);
    }
  });

  it('the files helm reads parse: values, rules, dashboard, and every template skeleton', () => {
    const rules = parse(read('files/prometheus-rules.yml')) as { groups: unknown[] };
    assert.ok(rules.groups.length > 0);
    const dashboard = JSON.parse(read('files/grafana-dashboard.json')) as {
      uid: string;
      panels: unknown[];
    };
    assert.equal(dashboard.uid, 'etcd-space-guard');
    for (const file of templates) {
      const object = skeleton(file);
      assert.ok(
        object.apiVersion && object.kind && at(object, 'metadata.name'),
        `${file}: apiVersion, kind and metadata.name`,
      );
    }
    for (const match of templates.flatMap((f) => [
      ...read(join('templates', f)).matchAll(/\.Files\.Get "([^"]+)"/g),
    ])) {
      assert.ok(existsSync(join(CHART, match[1]!)), `${match[1]} exists`);
    }
  });

  it('the default configuration is valid for the guard, and points at the chart mounts', () => {
    const parsed = ConfigSchema.safeParse(values.config);
    assert.ok(parsed.success, parsed.error?.message);
    const config = parsed.data;
    const container = (
      at(skeleton('deployment.yaml'), 'spec.template.spec.containers') as Container[]
    )[0]!;
    const mounts = container.volumeMounts.map((m) => m.mountPath);
    const mounted = (file: string): boolean => mounts.some((dir) => file.startsWith(`${dir}/`));
    for (const cluster of config.clusters) {
      for (const file of [cluster.tls.caFile, cluster.tls.certFile, cluster.tls.keyFile])
        assert.ok(file && mounted(file), `${file} is on a mount`);
    }
    // The chart sets webhook.tokenFile itself, when a webhook Secret is mounted.
    const tokenFile = /dict "tokenFile" "([^"]+)"/.exec(read('templates/configmap.yaml'))?.[1];
    assert.ok(tokenFile && mounted(tokenFile), `${tokenFile} is on a mount`);
    assert.ok(
      mounted(config.snapshot.dir) && mounted(config.state.dir),
      'snapshots and state on the data volume',
    );
    const configArg = container.args[container.args.indexOf('--config') + 1]!;
    assert.ok(mounted(configArg), `${configArg} is on a mount`);
    assert.equal(container.args[0], 'serve');
  });

  it('Deployment: one replica, Recreate, probes, resources, non-root with a read-only root filesystem', () => {
    const deployment = skeleton('deployment.yaml');
    assert.equal(deployment.kind, 'Deployment');
    assert.equal(at(deployment, 'spec.replicas'), 1);
    assert.equal(at(deployment, 'spec.strategy.type'), 'Recreate');
    const template = read('templates/deployment.yaml');
    for (const key of [
      'livenessProbe',
      'readinessProbe',
      'resources',
      'securityContext',
      'podSecurityContext',
    ])
      assert.match(template, new RegExp(`\\.Values\\.${key}\\b`));
    assert.equal(at(values, 'livenessProbe.httpGet.path'), '/healthz');
    assert.equal(at(values, 'readinessProbe.httpGet.path'), '/readyz');
    assert.ok(at(values, 'resources.requests.memory') && at(values, 'resources.limits.memory'));
    assert.equal(at(values, 'podSecurityContext.runAsNonRoot'), true);
    assert.equal(at(values, 'securityContext.readOnlyRootFilesystem'), true);
    assert.equal(at(values, 'securityContext.allowPrivilegeEscalation'), false);
    assert.deepEqual(at(values, 'securityContext.capabilities.drop'), ['ALL']);
    const dockerUser = /^USER (\d+):(\d+)$/m.exec(
      readFileSync(fileURLToPath(new URL('../../Dockerfile', import.meta.url)), 'utf8'),
    );
    assert.equal(
      String(at(values, 'podSecurityContext.runAsUser')),
      dockerUser?.[1],
      'the image and the chart agree on the user',
    );
  });

  it('ServiceMonitor and PrometheusRule are optional, take additionalLabels, and the job is not .*etcd.*', () => {
    for (const [file, key] of [
      ['servicemonitor.yaml', 'serviceMonitor'],
      ['prometheusrule.yaml', 'prometheusRule'],
    ] as const) {
      const text = read(join('templates', file));
      assert.match(
        text.split('\n')[0]!,
        new RegExp(`^\\{\\{- if \\.Values\\.${key}\\.enabled \\}\\}$`),
      );
      assert.match(text, new RegExp(`\\.Values\\.${key}\\.additionalLabels`));
      assert.equal(
        at(values, `${key}.enabled`),
        false,
        'off by default: not every cluster runs the Prometheus Operator',
      );
    }
    const monitor = skeleton('servicemonitor.yaml');
    const relabel = (
      at(monitor, 'spec.endpoints') as {
        relabelings: { targetLabel: string; replacement: string }[];
      }[]
    )[0]!.relabelings.find((r) => r.targetLabel === 'job');
    assert.equal(relabel?.replacement, 'space-guard');
    assert.doesNotMatch(relabel.replacement, /etcd/);
    assert.match(
      read('files/prometheus-rules.yml'),
      /up\{job="space-guard"\}/,
      'the rules expect that job name',
    );
    assert.match(
      read('templates/prometheusrule.yaml'),
      /\.Files\.Get "files\/prometheus-rules\.yml"/,
    );
  });

  it('the dashboard ConfigMap carries the grafana_dashboard label', () => {
    assert.equal(at(values, 'dashboard.labels.grafana_dashboard'), '1');
    assert.match(
      read('templates/dashboard-configmap.yaml'),
      /\.Files\.Get "files\/grafana-dashboard\.json"/,
    );
  });

  it('refuses to install what the guard would refuse to run: remediation without a webhook secret, TLS paths without the Secret', () => {
    const configmap = read('templates/configmap.yaml');
    assert.match(
      configmap,
      /if and \$remediation \(not \$webhookSecret\)[^\n]*\n\{\{- fail "remediation is enabled but no webhook token/,
    );
    assert.match(
      configmap,
      /if and \(not \.Values\.etcdTls\.existingSecret\)[^\n]*\n\{\{- fail "config\.clusters\[\]\.tls points at/,
    );
    assert.equal(at(values, 'config.webhook'), undefined, "the token path is the chart's business");
  });

  it("the ServiceMonitor keeps the guard's endpoint label, and the PVC survives helm uninstall", () => {
    const endpoint = (
      at(skeleton('servicemonitor.yaml'), 'spec.endpoints') as { honorLabels: boolean }[]
    )[0];
    assert.equal(endpoint?.honorLabels, true);
    assert.equal(
      at(skeleton('pvc.yaml'), 'metadata.annotations')?.['helm.sh/resource-policy' as never],
      'keep',
    );
  });

  it('webConfig: off by default, and the chart is told what the Secret holds (it cannot read it)', () => {
    assert.deepEqual(at(values, 'webConfig'), {
      existingSecret: '',
      secretKey: 'web-config.yml',
      tlsSecret: '',
      tls: false,
      clientCertRequired: false,
      basicAuth: false,
    });
  });

  it('webConfig: the Secret is mounted as a directory and passed as --web.config.file', () => {
    const template = read('templates/deployment.yaml');
    const spec = at(skeleton('deployment.yaml'), 'spec.template.spec') as {
      containers: Container[];
      volumes: Volume[];
    };
    const container = spec.containers[0]!;
    const file = container.args[container.args.indexOf('--web.config.file') + 1]!;
    const mount = container.volumeMounts.find((m) => file.startsWith(`${m.mountPath}/`));
    assert.equal(mount?.name, 'web-config', `${file} is on the web-config mount`);
    const volume = spec.volumes.find((v) => v.name === 'web-config');
    assert.deepEqual(
      volume?.secret?.items,
      [{ key: 'x', path: file.slice(mount.mountPath.length + 1) }],
      'the Secret key lands at the path passed',
    );
    assert.match(template, /items:\n\s+- key: \{\{ \.Values\.webConfig\.secretKey \}\}/);
    assert.match(template, /secretName: \{\{ \.Values\.webConfig\.existingSecret \}\}/);
    assert.match(
      template,
      /\{\{- if \.Values\.webConfig\.existingSecret \}\}\n\s+- --web\.config\.file\n/,
      'the flag only with a Secret',
    );
    // Certificates renewed by cert-manager reach the pod only through a directory mount.
    assert.doesNotMatch(
      template,
      /^\s*subPath:/m,
      'no subPath: kubelet would never update the files',
    );
    const tlsMount = container.volumeMounts.find((m) => m.name === 'web-tls');
    assert.equal(tlsMount?.mountPath, '/etc/etcd-space-guard/web-tls');
    assert.match(template, /secretName: \{\{ \.Values\.webConfig\.tlsSecret \}\}/);
    assert.match(
      read('values.yaml'),
      /cert_file: \/etc\/etcd-space-guard\/web-tls\/tls\.crt/,
      'the example points at that mount',
    );
  });

  it('webConfig: probes use HTTPS with TLS, and check the port when kubelet cannot authenticate', () => {
    const template = read('templates/deployment.yaml');
    for (const probe of ['livenessProbe', 'readinessProbe']) {
      assert.match(
        template,
        new RegExp(
          `${probe}:\\n\\s+\\{\\{- include "etcd-space-guard\\.probe" \\(dict "probe" \\.Values\\.${probe} "web" \\.Values\\.webConfig\\)`,
        ),
      );
    }
    const helper = read('templates/_helpers.tpl');
    const probe = helper.slice(helper.indexOf('define "etcd-space-guard.probe"'));
    assert.match(
      probe,
      /if or \.web\.clientCertRequired \.web\.basicAuth \}\}\n.*unset \$probe "httpGet".*\n.*set \$probe "tcpSocket" \(dict "port" "http"\)/,
    );
    assert.match(
      probe,
      /else if and \.web\.tls \$probe\.httpGet \}\}\n.*set \$probe\.httpGet "scheme" "HTTPS"/,
    );
    assert.match(probe, /deepCopy \.probe/, 'the values themselves are left alone');
  });

  it('webConfig: the ServiceMonitor scrapes https when TLS is on, with tlsConfig and basicAuth from values', () => {
    const endpoint = (at(skeleton('servicemonitor.yaml'), 'spec.endpoints') as Yaml[])[0]!;
    assert.ok('scheme' in endpoint && 'tlsConfig' in endpoint && 'basicAuth' in endpoint);
    const text = read('templates/servicemonitor.yaml');
    assert.match(
      text,
      /scheme: \{\{ \.Values\.serviceMonitor\.scheme \| default \(ternary "https" "http" \.Values\.webConfig\.tls\) \}\}/,
    );
    assert.match(text, /\{\{- with \.Values\.serviceMonitor\.tlsConfig \}\}\n\s+tlsConfig:/);
    assert.match(text, /\{\{- with \.Values\.serviceMonitor\.basicAuth \}\}\n\s+basicAuth:/);
    assert.deepEqual(
      [
        at(values, 'serviceMonitor.scheme'),
        at(values, 'serviceMonitor.tlsConfig'),
        at(values, 'serviceMonitor.basicAuth'),
      ],
      ['', {}, {}],
    );
  });

  it('webConfig: web users stand in for the webhook token; web values without the Secret are refused', () => {
    const configmap = read('templates/configmap.yaml');
    assert.match(
      configmap,
      /if and \$remediation \(not \$webhookSecret\) .*\(not \.Values\.webConfig\.basicAuth\) \}\}/,
    );
    assert.match(
      configmap,
      /if and \$webValues \(not \.Values\.webConfig\.existingSecret\) \}\}\n\{\{- fail "webConfig describes a web config/,
    );
    assert.match(
      configmap,
      /\$webValues := or \.Values\.webConfig\.tls \.Values\.webConfig\.clientCertRequired \.Values\.webConfig\.basicAuth \.Values\.webConfig\.tlsSecret/,
    );
    assert.match(
      configmap,
      /if and \.Values\.webConfig\.clientCertRequired \(not \.Values\.webConfig\.tls\) \}\}\n\{\{- fail/,
    );
  });

  it('secrets are references: etcd TLS and the webhook token are mounted from Secrets, never put in the ConfigMap', () => {
    const deployment = read('templates/deployment.yaml');
    assert.match(deployment, /secretName: \{\{ \.Values\.etcdTls\.existingSecret \}\}/);
    assert.match(
      deployment,
      /secretName: \{\{ include "etcd-space-guard\.webhookSecretName" \. \}\}/,
    );
    assert.equal(at(values, 'webhook.token'), '', 'no token by default');
    const configmap = read('templates/configmap.yaml');
    assert.doesNotMatch(
      configmap.slice(configmap.indexOf('\ndata:')),
      /webhook\.token|etcdTls/,
      'the ConfigMap renders the config, never a secret',
    );
  });
});
