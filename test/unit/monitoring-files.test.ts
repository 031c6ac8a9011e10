// The shipped rules and example configurations, checked by the tools that will load
// them: promtool (Prometheus) and amtool (Alertmanager), both from Debian.
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { headingAnchors } from '../harness/markdown.js';
import { run } from '../harness/processes.js';
import {
  ALERTMANAGER_EXAMPLE,
  DASHBOARD_FILE,
  PROMETHEUS_EXAMPLE,
  RULES_FILE,
  RULES_TESTS,
} from '../harness/monitoring.js';

async function tool(command: string, args: string[]): Promise<string> {
  const result = await run(command, args).catch((err: unknown) => {
    throw new Error(
      `${command} is needed for this test (Debian packages prometheus and prometheus-alertmanager; bash scripts/install-deps.sh --test): ${String(err)}`,
    );
  });
  assert.equal(result.code, 0, `${command} ${args.join(' ')}\n${result.stdout}${result.stderr}`);
  return result.stdout + result.stderr;
}

interface RuleGroup {
  rules: {
    alert?: string;
    expr: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  }[];
}

const rules = (parse(readFileSync(RULES_FILE, 'utf8')) as { groups: RuleGroup[] }).groups.flatMap(
  (g) => g.rules,
);

describe('Prometheus rules', () => {
  it('pass promtool check rules', async () => {
    assert.match(
      await tool('promtool', ['check', 'rules', RULES_FILE]),
      new RegExp(`SUCCESS: ${rules.length} rules found`),
    );
  });

  it('pass their promtool unit tests (test/rules/prometheus-rules.test.yml)', async () => {
    assert.match(await tool('promtool', ['test', 'rules', RULES_TESTS]), /SUCCESS/);
  });

  it('every alert is unit-tested, firing at least once', () => {
    const tests = readFileSync(RULES_TESTS, 'utf8');
    for (const rule of rules) {
      assert.ok(rule.alert, 'only alerting rules are shipped');
      assert.match(
        tests,
        new RegExp(`alertname: ${rule.alert}\\n\\s+exp_alerts:\\n\\s+- exp_labels`),
        `${rule.alert} has no test where it fires`,
      );
    }
  });

  it('every alert has a severity, a summary, a description and a runbook link to its section of docs/alerts.md', () => {
    const alerts = readFileSync(new URL('../../docs/alerts.md', import.meta.url), 'utf8');
    for (const rule of rules) {
      assert.match(
        rule.labels?.severity ?? '',
        /^(critical|warning|info)$/,
        `${rule.alert}: severity`,
      );
      assert.ok(
        rule.annotations?.summary && rule.annotations.description,
        `${rule.alert}: summary and description`,
      );
      const anchor = /docs\/alerts\.md#([a-z]+)$/.exec(rule.annotations.runbook_url ?? '')?.[1];
      assert.ok(anchor, `${rule.alert}: runbook_url to a section of docs/alerts.md`);
      assert.ok(
        headingAnchors(alerts).has(anchor),
        `${rule.alert}: docs/alerts.md has no section #${anchor}`,
      );
    }
  });

  it('the trigger alert keeps the cluster label the webhook matches on', () => {
    const trigger = rules.find((r) => r.alert === 'EtcdSpaceNoSpace');
    assert.match(trigger?.expr ?? '', /by \(cluster\)/);
  });
});

/** The guard's metric names an expression reads, histogram series named after their histogram. */
function guardMetricNames(expr: string): string[] {
  return [...expr.matchAll(/\betcd_space_\w+/g)].map((m) =>
    m[0].replace(/_(sum|count|bucket)$/, ''),
  );
}

describe('the rules and the dashboard read metrics the guard serves', () => {
  const documented = readFileSync(new URL('../../docs/metrics.md', import.meta.url), 'utf8');
  const dashboard = JSON.parse(readFileSync(DASHBOARD_FILE, 'utf8')) as {
    panels: { title: string; targets?: { expr: string }[] }[];
  };
  const reads = [
    ...rules.map((r) => ({ where: `rule ${r.alert ?? ''}`, expr: r.expr })),
    ...dashboard.panels.flatMap((p) =>
      (p.targets ?? []).map((t) => ({ where: `panel "${p.title}"`, expr: t.expr })),
    ),
  ];

  it('every etcd_space_* name they use is a metric of docs/metrics.md', () => {
    const unknown = reads.flatMap(({ where, expr }) =>
      guardMetricNames(expr)
        .filter((name) => !documented.includes(`\`${name}`))
        .map((name) => `${where}: ${name}`),
    );
    assert.deepEqual(unknown, []);
  });

  it('the dashboard shows the time left and the compaction lag and age', () => {
    const used = new Set(
      reads.filter((r) => r.where.startsWith('panel')).flatMap((r) => guardMetricNames(r.expr)),
    );
    for (const name of [
      'etcd_space_quota_exhaustion_seconds',
      'etcd_space_compaction_lag_revisions',
      'etcd_space_compaction_age_seconds',
    ])
      assert.ok(used.has(name), name);
  });

  it('the dashboard shows what uses the space, stacked per group, and the fastest-growing groups', () => {
    const panel = (title: string) => dashboard.panels.find((p) => p.title === title);
    const exprs = (title: string) => (panel(title)?.targets ?? []).map((t) => t.expr);
    assert.ok(panel('What uses the space'), 'the row');
    const bytes = panel('Live bytes per group') as
      | { fieldConfig?: { defaults?: { custom?: { stacking?: { mode?: string } } } } }
      | undefined;
    assert.equal(bytes?.fieldConfig?.defaults?.custom?.stacking?.mode, 'normal');
    assert.match(
      exprs('Live bytes per group').join(),
      /^etcd_space_keyspace_group_bytes\{.*cluster="\$cluster"/,
    );
    assert.match(
      exprs('Fastest-growing groups').join(),
      /^topk\(5, deriv\(etcd_space_keyspace_group_bytes\{/,
    );
    assert.deepEqual(exprs('Keyspace walk').flatMap(guardMetricNames), [
      'etcd_space_keyspace_scan_age_seconds',
      'etcd_space_keyspace_scan_duration_seconds',
      'etcd_space_keyspace_scan_failures_total',
    ]);
  });
});

describe('example configurations', () => {
  it('monitoring/prometheus.yml passes promtool check config, scraping the guard as job "space-guard"', async () => {
    await tool('promtool', ['check', 'config', PROMETHEUS_EXAMPLE]);
    const config = parse(readFileSync(PROMETHEUS_EXAMPLE, 'utf8')) as {
      scrape_configs: { job_name: string }[];
    };
    for (const job of config.scrape_configs)
      assert.doesNotMatch(
        job.job_name,
        /etcd/,
        'the etcd mixin counts jobs matching .*etcd.* as etcd members',
      );
  });

  it('monitoring/alertmanager.yml passes amtool check-config, with bearer authorization for the webhook', async () => {
    await tool('amtool', ['check-config', ALERTMANAGER_EXAMPLE]);
    const config = parse(readFileSync(ALERTMANAGER_EXAMPLE, 'utf8')) as {
      receivers: {
        name: string;
        webhook_configs?: {
          url: string;
          http_config?: { authorization?: { type: string; credentials_file?: string } };
        }[];
      }[];
    };
    const hook = config.receivers.find((r) => r.name === 'etcd-space-guard')?.webhook_configs?.[0];
    assert.match(hook?.url ?? '', /\/webhook\/alertmanager$/);
    assert.equal(hook?.http_config?.authorization?.type, 'Bearer');
    assert.ok(hook.http_config.authorization.credentials_file);
  });
});
