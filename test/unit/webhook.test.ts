import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { authorized } from '../../src/server/require-auth.js';
import { matchAlerts } from '../../src/webhook/match.js';
import { AlertmanagerPayloadSchema, describePayloadError } from '../../src/webhook/payload.js';
import { alertPayload } from '../harness/remediation.js';

const options = {
  alertnames: ['EtcdSpaceNoSpace', 'etcdBackendQuotaLowSpace'],
  clusterLabel: 'cluster',
  clusters: ['prod'],
};

function parse(value: unknown) {
  return AlertmanagerPayloadSchema.parse(value);
}

describe('the Alertmanager payload schema', () => {
  it('accepts what Alertmanager sends, unknown extra fields included', () => {
    const payload = parse({ ...alertPayload([{ cluster: 'prod' }]), someFutureField: true });
    assert.equal(payload.alerts[0]?.labels.cluster, 'prod');
  });

  it('never throws on arbitrary JSON: it answers with a parse result and a one-line reason', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const result = AlertmanagerPayloadSchema.safeParse(value);
        if (!result.success) {
          const reason = describePayloadError(result.error);
          assert.ok(reason.length > 0 && !reason.includes('\n'));
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('accepts every well-formed payload and keeps every alert', () => {
    const labels = fc.dictionary(
      fc.string({ minLength: 1, maxLength: 12 }),
      fc.string({ maxLength: 20 }),
      { maxKeys: 5 },
    );
    const alert = fc.record({
      status: fc.constantFrom('firing', 'resolved'),
      labels,
      annotations: labels,
      fingerprint: fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), maxLength: 16 }),
    });
    const payload = fc.record({
      version: fc.constant('4'),
      status: fc.constantFrom('firing', 'resolved'),
      receiver: fc.string(),
      alerts: fc.array(alert, { maxLength: 20 }),
    });
    fc.assert(
      fc.property(payload, (p) => {
        assert.equal(parse(p).alerts.length, p.alerts.length);
      }),
      { numRuns: 500 },
    );
  });

  it('mutating one field of a valid payload to a wrong type is rejected, never accepted silently', () => {
    const base = alertPayload([{}]);
    const wrong = fc.constantFrom<unknown>(42, null, 'x', true, { a: 1 }); // [] is a valid alerts list
    fc.assert(
      fc.property(fc.constantFrom('version', 'status', 'alerts'), wrong, (field, value) => {
        const result = AlertmanagerPayloadSchema.safeParse({ ...base, [field]: value });
        assert.equal(result.success, false, `${field} = ${JSON.stringify(value)}`);
      }),
    );
  });
});

describe('matching alerts to clusters', () => {
  it('takes firing alerts with a configured name, by their cluster label', () => {
    const match = matchAlerts(
      parse(
        alertPayload([
          { cluster: 'prod' },
          { alertname: 'etcdBackendQuotaLowSpace', cluster: 'prod' },
        ]),
      ),
      options,
    );
    assert.deepEqual([...match.byCluster.keys()], ['prod']);
    assert.equal(match.byCluster.get('prod')?.length, 2);
  });

  it('falls back to the only configured cluster when the label is missing', () => {
    assert.deepEqual(
      [...matchAlerts(parse(alertPayload([{}])), options).byCluster.keys()],
      ['prod'],
    );
    const two = matchAlerts(parse(alertPayload([{}])), { ...options, clusters: ['a', 'b'] });
    assert.equal(two.byCluster.size, 0);
    assert.match(two.ignored.join(), /no "cluster" label and 2 clusters are configured/);
  });

  it('ignores resolved alerts, other alert names and other clusters, saying why', () => {
    const match = matchAlerts(
      parse(
        alertPayload([{ status: 'resolved' }, { alertname: 'Watchdog' }, { cluster: 'staging' }]),
      ),
      options,
    );
    assert.equal(match.byCluster.size, 0);
    assert.deepEqual(match.ignored, [
      '1 resolved alert(s)',
      'alert Watchdog is not one of EtcdSpaceNoSpace, etcdBackendQuotaLowSpace',
      'alert EtcdSpaceNoSpace is for cluster "staging", which is not configured here',
    ]);
  });

  it('uses a configured cluster label', () => {
    const payload = parse({
      ...alertPayload([{}]),
      alerts: [
        { status: 'firing', labels: { alertname: 'EtcdSpaceNoSpace', etcd_cluster: 'prod' } },
      ],
    });
    assert.equal(
      matchAlerts(payload, {
        ...options,
        clusterLabel: 'etcd_cluster',
        clusters: ['prod', 'other'],
      }).byCluster.size,
      1,
    );
  });
});

describe('webhook authentication', () => {
  const bearer = { kind: 'bearer' as const, token: 's3cret', source: 'test' };
  const basic = { kind: 'basic' as const, username: 'am', password: 'pw', source: 'test' };
  const b64 = (text: string) => Buffer.from(text).toString('base64');

  it('accepts the bearer token, in any letter case of the scheme', () => {
    assert.equal(authorized('Bearer s3cret', bearer), true);
    assert.equal(authorized('bearer s3cret', bearer), true);
  });

  it('rejects a missing, wrong, prefixed or truncated token', () => {
    for (const header of [
      undefined,
      '',
      'Bearer',
      'Bearer s3cre',
      'Bearer s3cret2',
      's3cret',
      `Basic ${b64('x:s3cret')}`,
    ]) {
      assert.equal(authorized(header, bearer), false, String(header));
    }
  });

  it('checks basic auth user and password', () => {
    assert.equal(authorized(`Basic ${b64('am:pw')}`, basic), true);
    assert.equal(authorized(`Basic ${b64('am:nope')}`, basic), false);
    assert.equal(authorized(`Basic ${b64('eve:pw')}`, basic), false);
    assert.equal(authorized(`Basic ${b64('ampw')}`, basic), false);
    assert.equal(authorized('Bearer pw', basic), false);
  });

  it('with nothing configured (the explicit insecure mode) everything passes', () => {
    assert.equal(authorized(undefined, { kind: 'none', source: 'webhook.insecure' }), true);
  });
});
