import type { CfnElement } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';
import { describe, expect, it } from 'vitest';
import { CALL_BUDGET_LEDGER_KEY, ENV, QUALYS_STATE_PREFIX } from '../../functions/core/names';
import { DEFAULT_SUBSCRIPTION, scopedGrants } from '../../functions/core/subscription';
import { COLLECTOR_MANIFESTS } from '../../functions/manifests';
import {
  actionsOf,
  allowStatements,
  objectSuffix,
  type Resource,
  resourcesOf,
  synthStack,
} from '../support/infra';

/**
 * The stack grants each collector exactly what its manifest says, scoped to its subscription
 * (`subscription=default/` after each prefix's first two levels, functions/core/subscription.ts), as ArchiveBucket.grantPrefixes
 * renders it for the Collector construct: s3:GetObject on the objects under each `reads` prefix,
 * s3:ListBucket on the bucket with `s3:prefix` limited to those prefixes, s3:PutObject and
 * s3:AbortMultipartUpload on the objects under each `writes` prefix, and no other S3 action. The
 * catalog has a Glue table for each dataset a manifest produces.
 */
describe('the stack grants each collector its manifest', () => {
  const { stack, template } = synthStack();
  const logicalId = (construct: IConstruct) => stack.getLogicalId(construct.node.defaultChild as CfnElement);
  const bucket = logicalId(stack.archive.bucket);
  const objects = (prefixes: readonly string[]) => prefixes.map((prefix) => `/${prefix}*`).sort();

  it('has one collector per manifest', () => {
    expect([...stack.collectors.keys()].sort()).toEqual(Object.keys(COLLECTOR_MANIFESTS).sort());
  });

  it('catalogs exactly the datasets the manifests produce, one Glue table each', () => {
    const datasets = Object.values(COLLECTOR_MANIFESTS).flatMap((manifest) => manifest.datasets);
    expect(new Set(datasets).size).toBe(datasets.length);
    expect([...stack.catalog.tables.keys()]).toEqual(datasets);
  });

  describe.each(Object.values(COLLECTOR_MANIFESTS))('$name', (unscoped) => {
    const grants = scopedGrants(unscoped, DEFAULT_SUBSCRIPTION);
    const manifest = { ...unscoped, reads: grants.read, writes: grants.write, deletes: grants.delete };
    const collector = stack.collectors.get(manifest.name);
    if (!collector) throw new Error(`no collector ${manifest.name} in the stack`);
    const functionId = logicalId(collector.function);
    const statements = allowStatements(template, functionId);
    const s3Statements = statements.filter((s) => actionsOf(s).some((action) => action.startsWith('s3:')));
    /** Object suffixes granted with `action` (undefined for a resource that is not an object ARN). */
    const granted = (action: string) =>
      s3Statements
        .filter((s) => actionsOf(s).includes(action))
        .flatMap((s) => resourcesOf(s).map((resource) => objectSuffix(resource, bucket)))
        .sort();

    it('may get exactly the objects under its reads', () => {
      expect(manifest.reads.length).toBeGreaterThan(0);
      expect(granted('s3:GetObject')).toEqual(objects(manifest.reads));
    });

    it('may list the bucket only under its reads', () => {
      const list = s3Statements.filter((s) => actionsOf(s).includes('s3:ListBucket'));
      expect(list).toHaveLength(1);
      expect(actionsOf(list[0] as (typeof list)[number])).toEqual(['s3:ListBucket']);
      expect(list[0]?.Resource).toEqual({ 'Fn::GetAtt': [bucket, 'Arn'] });
      expect(list[0]?.Condition).toEqual({
        StringLike: { 's3:prefix': manifest.reads.map((prefix) => `${prefix}*`) },
      });
    });

    it('may put, and abort uploads of, exactly the objects under its writes', () => {
      expect(granted('s3:PutObject')).toEqual(objects(manifest.writes));
      expect(granted('s3:AbortMultipartUpload')).toEqual(objects(manifest.writes));
    });

    it('reads and writes the call-budget ledger every collector shares, and may list it', () => {
      expect(CALL_BUDGET_LEDGER_KEY.startsWith(QUALYS_STATE_PREFIX)).toBe(true);
      expect(unscoped.reads).toContain('state/qualys/');
      expect(unscoped.writes).toContain('state/qualys/');
      expect(granted('s3:GetObject')).toContain('/state/qualys/subscription=default/*');
      expect(granted('s3:PutObject')).toContain('/state/qualys/subscription=default/*');
      const list = s3Statements.find((s) => actionsOf(s).includes('s3:ListBucket'));
      expect(JSON.stringify(list?.Condition)).toContain('"state/qualys/subscription=default/*"');
    });

    it('may delete exactly the objects under its deletes (its page journal), and nothing else', () => {
      expect(granted('s3:DeleteObject')).toEqual(objects(manifest.deletes));
      expect(unscoped.deletes).toEqual(manifest.prefixes.journal ? [manifest.prefixes.journal] : []);
    });

    it('has no other S3 action', () => {
      expect([...new Set(s3Statements.flatMap(actionsOf))].sort()).toEqual(
        [
          's3:AbortMultipartUpload',
          's3:GetObject',
          's3:ListBucket',
          's3:PutObject',
          ...(manifest.deletes.length > 0 ? ['s3:DeleteObject'] : []),
        ].sort(),
      );
    });

    it(`publishes alerts only if its manifest says so (${manifest.publishesAlerts})`, () => {
      const fn = template.findResources('AWS::Lambda::Function')[functionId] as Resource;
      const variables = (fn.Properties.Environment as { Variables: Record<string, unknown> }).Variables;
      expect(ENV.alertTopicArn in variables).toBe(manifest.publishesAlerts);
      expect(statements.some((s) => actionsOf(s).includes('sns:Publish'))).toBe(manifest.publishesAlerts);
    });
  });
});
