import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { Stack, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { CURATED_DATASETS } from '../../functions/core/names';
import { athenaReadme } from '../../lib/athena/docs';
import { NAMED_QUERIES } from '../../lib/athena/queries';
import { TABLES } from '../../lib/athena/tables';
import { PROJECT_ROOT } from '../../lib/bundle';
import { LakeCatalog, type LakeCatalogOptions } from '../../lib/constructs/catalog';
import { constructSnapshot, SKIP_BUNDLING, testApp } from '../support/infra';

/** A fresh stack with just a bucket and the catalog; `options` may use the stack (to import a key). */
function build(options: LakeCatalogOptions | ((stack: Stack) => LakeCatalogOptions) = {}) {
  const app = testApp(SKIP_BUNDLING, { builtinCloudFormationValidation: false });
  const stack = new Stack(app, 'QualysLake', { env: { account: '123456789012', region: 'eu-west-1' } });
  const bucket = new s3.Bucket(stack, 'Archive');
  const catalog = new LakeCatalog(stack, 'Catalog', {
    bucket,
    ...(typeof options === 'function' ? options(stack) : options),
  });
  return {
    app,
    stack,
    catalog,
    /** Synthesises on first use, so a test may add to the stack before. */
    get template() {
      return Template.fromStack(stack);
    },
  };
}

const bucketName = { Ref: Match.stringLikeRegexp('^Archive') };

describe('LakeCatalog', () => {
  const { template } = build();

  it('creates the Glue database', () => {
    template.resourceCountIs('AWS::Glue::Database', 1);
    template.hasResourceProperties('AWS::Glue::Database', {
      CatalogId: '123456789012',
      DatabaseInput: { Name: 'qualys_lake' },
    });
  });

  it('has one table per curated dataset, nothing more', () => {
    template.resourceCountIs('AWS::Glue::Table', Object.keys(CURATED_DATASETS).length);
    expect(TABLES.map((table) => table.name).sort()).toEqual(Object.values(CURATED_DATASETS).sort());
  });

  it.each(TABLES.map((table) => [table.name, table] as const))(
    '%s: JSON SerDe over gzip NDJSON, projected subscription and dt partitions, the declared columns',
    (name, table) => {
      template.hasResourceProperties('AWS::Glue::Table', {
        DatabaseName: 'qualys_lake',
        TableInput: {
          Name: name,
          TableType: 'EXTERNAL_TABLE',
          PartitionKeys: [
            { Name: 'subscription', Type: 'string', Comment: Match.anyValue() },
            { Name: 'dt', Type: 'string', Comment: Match.anyValue() },
          ],
          Parameters: {
            'projection.enabled': 'true',
            'projection.subscription.type': 'enum',
            'projection.subscription.values': 'default',
            'projection.dt.type': 'date',
            'projection.dt.format': 'yyyy-MM-dd',
            'projection.dt.range': '2020-01-01,NOW',
            'projection.dt.interval': '1',
            'projection.dt.interval.unit': 'DAYS',
            'storage.location.template': {
              'Fn::Join': [
                '',
                ['s3://', bucketName, `/curated/${name}/subscription=\${subscription}/dt=\${dt}/`],
              ],
            },
            compressionType: 'gzip',
          },
          StorageDescriptor: {
            Location: { 'Fn::Join': ['', ['s3://', bucketName, `/curated/${name}/`]] },
            InputFormat: 'org.apache.hadoop.mapred.TextInputFormat',
            Compressed: true,
            SerdeInfo: {
              SerializationLibrary: 'org.openx.data.jsonserde.JsonSerDe',
              Parameters: { 'ignore.malformed.json': 'FALSE', 'case.insensitive': 'TRUE' },
            },
            Columns: table.columns.map((column) => ({
              Name: column.name.toLowerCase(),
              Type: column.type.toLowerCase(),
              Comment: column.comment,
            })),
          },
        },
      });
    },
  );

  it('keeps Glue limits: column comments up to 255 characters, no duplicate column', () => {
    for (const table of TABLES) {
      const names = table.columns.map((column) => column.name.toLowerCase());
      expect(new Set(names).size, table.name).toBe(names.length);
      expect(names, table.name).not.toContain('dt');
      expect(names, table.name).not.toContain('subscription');
      for (const column of table.columns)
        expect(column.comment.length, `${table.name}.${column.name}`).toBeLessThanOrEqual(255);
    }
  });

  it('projects the subscriptions it is given, and refuses a name that cannot be a partition', () => {
    const two = build({ subscriptions: ['prod', 'emea'] }).template;
    for (const table of Object.values(two.findResources('AWS::Glue::Table')) as {
      Properties: { TableInput: { Parameters: Record<string, unknown> } };
    }[]) {
      expect(table.Properties.TableInput.Parameters['projection.subscription.values']).toBe('prod,emea');
    }
    expect(() => build({ subscriptions: ['Prod'] })).toThrow(/subscription name "Prod" is not valid/);
  });

  it('has a workgroup with enforced, encrypted results under athena-results/ and a 10 GiB scan limit', () => {
    template.resourceCountIs('AWS::Athena::WorkGroup', 1);
    template.hasResourceProperties('AWS::Athena::WorkGroup', {
      Name: 'qualys-lake',
      RecursiveDeleteOption: true,
      WorkGroupConfiguration: {
        EnforceWorkGroupConfiguration: true,
        PublishCloudWatchMetricsEnabled: true,
        BytesScannedCutoffPerQuery: 10 * 1024 ** 3,
        EngineVersion: { SelectedEngineVersion: 'Athena engine version 3' },
        ResultConfiguration: {
          OutputLocation: { 'Fn::Join': ['', ['s3://', bucketName, '/athena-results/']] },
          EncryptionConfiguration: { EncryptionOption: 'SSE_S3' },
        },
      },
    });
  });

  it('saves one named query per entry, in the workgroup and the database', () => {
    template.resourceCountIs('AWS::Athena::NamedQuery', NAMED_QUERIES.length);
    expect(new Set(NAMED_QUERIES.map((query) => query.name)).size).toBe(NAMED_QUERIES.length);
    const workGroup = Object.keys(template.findResources('AWS::Athena::WorkGroup'))[0];
    for (const query of NAMED_QUERIES) {
      template.hasResourceProperties('AWS::Athena::NamedQuery', {
        Name: query.name,
        Description: query.description,
        Database: 'qualys_lake',
        WorkGroup: { Ref: workGroup },
        QueryString: Match.stringLikeRegexp(query.sql.slice(0, 40).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')),
      });
      expect(query.sql.split('?').length - 1, query.name).toBe(query.parameters.length);
      expect(query.name.length).toBeLessThanOrEqual(128);
      expect(query.description.length).toBeLessThanOrEqual(1024);
    }
  });

  it('takes a custom database, workgroup, scan limit and a KMS key for results', () => {
    const { template: custom } = build((stack) => ({
      databaseName: 'qualys_lake_dev',
      workGroupName: 'qualys-lake-dev',
      bytesScannedCutoff: 1024 ** 3,
      resultsKey: kms.Key.fromKeyArn(stack, 'Key', 'arn:aws:kms:eu-west-1:123456789012:key/abc'),
    }));
    custom.hasResourceProperties('AWS::Glue::Database', { DatabaseInput: { Name: 'qualys_lake_dev' } });
    custom.hasResourceProperties('AWS::Athena::WorkGroup', {
      Name: 'qualys-lake-dev',
      WorkGroupConfiguration: {
        BytesScannedCutoffPerQuery: 1024 ** 3,
        ResultConfiguration: {
          EncryptionConfiguration: {
            EncryptionOption: 'SSE_KMS',
            KmsKey: 'arn:aws:kms:eu-west-1:123456789012:key/abc',
          },
        },
      },
    });
    custom.hasResourceProperties('AWS::Athena::NamedQuery', { Database: 'qualys_lake_dev' });
  });

  it('rejects a scan limit below Athena minimum and a database name Athena cannot use', () => {
    expect(() => build({ bytesScannedCutoff: 1000 })).toThrow(/bytesScannedCutoff/);
    expect(() => build({ databaseName: 'Qualys-Lake' })).toThrow(/databaseName/);
  });

  it('grants a query role Athena on the workgroup, Glue reads, curated/ reads and results writes', () => {
    const { stack, catalog } = build();
    const role = new iam.Role(stack, 'Analyst', { assumedBy: new iam.AccountRootPrincipal() });
    catalog.grantQuery(role);
    const statements = JSON.stringify(Template.fromStack(stack).findResources('AWS::IAM::Policy'));
    expect(statements).toContain('athena:StartQueryExecution');
    expect(statements).toContain(':workgroup/qualys-lake');
    expect(statements).toContain('glue:GetPartitions');
    expect(statements).toContain(':table/qualys_lake/*');
    expect(statements).toContain('/curated/*');
    expect(statements).toContain('/athena-results/*');
    expect(statements).not.toContain('/raw/');
  });

  it('adds no cdk-nag AwsSolutions finding of its own', () => {
    const { app, stack } = build();
    const checks = new AwsSolutionsChecks(app);
    Validations.of(app).addPlugins(checks);
    try {
      app.synth();
    } catch (error) {
      if (!String(error).includes('ValidationFailed')) throw error;
    }
    const findings = checks
      .validateScope(app)
      .violations.flatMap((violation) =>
        violation.violatingResources.map((resource) => `${violation.ruleName} at ${resource.constructPath}`),
      )
      .filter((finding) => finding.includes(`${stack.stackName}/Catalog/`));
    expect(findings).toEqual([]);
  });

  it('matches its snapshot (column lists shortened: the per-table test above pins each one)', async () => {
    const columnCount = (key: string, value: unknown) =>
      key === 'Columns' && Array.isArray(value) ? `<${value.length} columns>` : value;
    await expect(constructSnapshot(template, 'Catalog', columnCount)).toMatchFileSnapshot(
      '__snapshots__/catalog.template.json',
    );
  });

  it('has its README section in step with the definitions (npx tsx lib/athena/docs.ts > lib/athena/README.athena.md)', () => {
    const readme = readFileSync(path.join(PROJECT_ROOT, 'lib', 'athena', 'README.athena.md'), 'utf8');
    expect(readme).toBe(athenaReadme());
    for (const query of NAMED_QUERIES) expect(readme).toContain(query.sql);
    for (const table of TABLES) expect(readme).toContain(`#### \`${table.name}\``);
    // README.md holds the same section, pasted: the user's manual says what the stack creates.
    expect(readFileSync(path.join(PROJECT_ROOT, 'README.md'), 'utf8')).toContain(athenaReadme());
  });
});
