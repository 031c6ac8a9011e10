// values.schema.json and the chart README's values table are generated
// (npm run chart:schema): the committed files must be what the generator writes now,
// from src/config/schema.ts, the chart's value shapes and the shipped alert names.
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import {
  README_FILE,
  SCHEMA_FILE,
  readmeWithValues,
  valuesSchema,
} from '../../scripts/chart-schema.js';

interface JsonSchema {
  additionalProperties?: unknown;
  properties?: Record<string, JsonSchema>;
  items?: JsonSchema;
  enum?: unknown[];
  default?: unknown;
  required?: string[];
}

const STALE = 'stale: run npm run chart:schema and commit the result';

describe('chart values schema', () => {
  it('values.schema.json is what npm run chart:schema generates', () => {
    assert.equal(readFileSync(SCHEMA_FILE, 'utf8'), valuesSchema(), STALE);
  });

  it("the chart README's values table is what npm run chart:schema generates", () => {
    const readme = readFileSync(README_FILE, 'utf8');
    assert.equal(readme, readmeWithValues(readme), STALE);
  });

  it("its config part is the guard's schema: strict objects, the guard's enums and defaults", () => {
    const schema = JSON.parse(readFileSync(SCHEMA_FILE, 'utf8')) as JsonSchema;
    assert.equal(schema.additionalProperties, false);
    const config = schema.properties!.config!;
    assert.equal(config.additionalProperties, false);
    assert.deepEqual(config.properties!.logLevel!.enum, [
      'trace',
      'debug',
      'info',
      'warn',
      'error',
      'fatal',
      'silent',
    ]);
    assert.equal(config.properties!.listen!.default, ':9379');
    const policy = config.properties!.clusters!.items!.properties!.policy!;
    assert.equal(policy.additionalProperties, false, 'per-cluster overrides are strict');
    assert.equal(policy.required, undefined, 'and need only the keys they change');
  });

  it('every key of values.yaml is in the schema (a value the schema lacks would be refused)', () => {
    const values = parse(
      readFileSync(SCHEMA_FILE.replace('values.schema.json', 'values.yaml'), 'utf8'),
    ) as Record<string, unknown>;
    const schema = JSON.parse(readFileSync(SCHEMA_FILE, 'utf8')) as {
      properties: Record<string, unknown>;
    };
    assert.deepEqual(Object.keys(values).sort(), Object.keys(schema.properties).sort());
  });
});
