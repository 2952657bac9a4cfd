import { Match, Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { ENV } from '../../functions/core/names';
import { QualysLakeStack } from '../../lib/qualys-lake-stack';
import {
  actionsOf,
  allowStatements,
  emailSubscriptions,
  FULL_CONTEXT,
  objectSuffix,
  type Resource,
  ref,
  resourcesOf,
  SKIP_BUNDLING,
  synthStack,
  testApp,
} from '../support/infra';

describe('QualysLakeStack with email and Slack', () => {
  const { template } = synthStack();
  const bucket = ref(template, 'AWS::S3::Bucket', 'ArchiveBucket');
  const topic = ref(template, 'AWS::SNS::Topic', 'AlertsTopic');
  const key = ref(template, 'AWS::KMS::Key', 'AlertsKey');
  const queue = ref(template, 'AWS::SQS::Queue', 'CdrFindingsDeadLetterQueue');
  const fn = ref(template, 'AWS::Lambda::Function', 'CdrFindingsFunction');

  it('hardens the archive bucket and expires raw pages', () => {
    template.hasResource('AWS::S3::Bucket', {
      Properties: {
        PublicAccessBlockConfiguration: {
          BlockPublicAcls: true,
          BlockPublicPolicy: true,
          IgnorePublicAcls: true,
          RestrictPublicBuckets: true,
        },
        BucketEncryption: {
          ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
        },
        VersioningConfiguration: { Status: 'Enabled' },
        LoggingConfiguration: {
          DestinationBucketName: { Ref: Match.stringLikeRegexp('^ArchiveAccessLogs') },
        },
        LifecycleConfiguration: {
          Rules: [
            {
              Id: 'raw-pages',
              Prefix: 'raw/',
              Status: 'Enabled',
              ExpirationInDays: 400,
              Transitions: [
                { StorageClass: 'STANDARD_IA', TransitionInDays: 30 },
                { StorageClass: 'GLACIER_IR', TransitionInDays: 90 },
              ],
            },
            { Id: 'athena-results', Prefix: 'athena-results/', Status: 'Enabled', ExpirationInDays: 30 },
            {
              Id: 'old-versions-and-uploads',
              Status: 'Enabled',
              NoncurrentVersionExpiration: { NoncurrentDays: 30 },
              AbortIncompleteMultipartUpload: { DaysAfterInitiation: 7 },
              ExpiredObjectDeleteMarker: true,
            },
          ],
        },
      },
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
    });
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: bucket },
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Deny',
            Action: 's3:*',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
        ]),
      },
    });
  });

  it('hardens the access log bucket too', () => {
    const logs = ref(template, 'AWS::S3::Bucket', 'ArchiveAccessLogs');
    expect(template.toJSON().Resources[logs]).toMatchObject({
      Properties: {
        PublicAccessBlockConfiguration: { BlockPublicAcls: true, RestrictPublicBuckets: true },
        BucketEncryption: {
          ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
        },
      },
      DeletionPolicy: 'Retain',
    });
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: logs },
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          Match.objectLike({ Effect: 'Allow', Principal: { Service: 'logging.s3.amazonaws.com' } }),
        ]),
      },
    });
  });

  it('encrypts the topic with a rotating key that CloudWatch alarms and Chatbot may use', () => {
    template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: { 'Fn::GetAtt': [key, 'Arn'] } });
    template.hasResourceProperties('AWS::KMS::Key', {
      EnableKeyRotation: true,
      KeyPolicy: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Sid: 'CloudWatchAlarmsUseKey',
            Principal: { Service: 'cloudwatch.amazonaws.com' },
          }),
          Match.objectLike({ Sid: 'ChatbotUseKey', Principal: { Service: 'chatbot.amazonaws.com' } }),
        ]),
      },
    });
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Deny',
            Action: 'sns:Publish',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
          Match.objectLike({ Effect: 'Allow', Principal: { Service: 'cloudwatch.amazonaws.com' } }),
        ]),
      },
    });
  });

  it('mails the team and posts to Slack through a notification-only Chatbot channel', () => {
    template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'sec@example.com',
      TopicArn: { Ref: topic },
    });
    template.hasResourceProperties('AWS::Chatbot::SlackChannelConfiguration', {
      SlackWorkspaceId: 'T0000',
      SlackChannelId: 'C0000',
      SnsTopicArns: [{ Ref: topic }],
      GuardrailPolicies: [{ 'Fn::Join': ['', Match.arrayWith([':iam::aws:policy/AWSDenyAll'])] }],
    });
    const chatbotRole = template.findResources('AWS::IAM::Role', {
      Properties: {
        AssumeRolePolicyDocument: {
          Statement: [Match.objectLike({ Principal: { Service: 'chatbot.amazonaws.com' } })],
        },
      },
    });
    expect(Object.values(chatbotRole)).toHaveLength(1);
    expect(Object.values(chatbotRole)[0]).not.toHaveProperty('Properties.ManagedPolicyArns');
  });

  it('runs the collector on Node.js 22, arm64, one at a time, with its settings', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs22.x',
      Architectures: ['arm64'],
      Handler: 'index.handler',
      ReservedConcurrentExecutions: 1,
      Timeout: 600,
      MemorySize: 512,
      LoggingConfig: { LogGroup: { Ref: Match.stringLikeRegexp('^CdrFindingsLogs') } },
      Environment: {
        Variables: {
          [ENV.qualysSecretId]: 'test/qualys',
          [ENV.archiveBucket]: { Ref: bucket },
          [ENV.alertTopicArn]: { Ref: topic },
          [ENV.alertMinSeverity]: 'HIGH',
          [ENV.alertMaxPerRun]: '50',
          NODE_OPTIONS: '--enable-source-maps',
          MALLOC_MMAP_THRESHOLD_: '131072',
          POWERTOOLS_SERVICE_NAME: 'qualys-lake',
          POWERTOOLS_METRICS_NAMESPACE: 'QualysLake',
        },
      },
    });
    const variables = (template.toJSON().Resources[fn].Properties.Environment.Variables ?? {}) as object;
    expect(Object.keys(variables)).not.toContain(ENV.cdrQuery);
    template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 90 });
  });

  it("starts every function it runs with glibc's mmap threshold fixed, so freed buffers go back to the OS", () => {
    const functions = Object.values(template.findResources('AWS::Lambda::Function'));
    // The four collectors; the Security Lake writer takes the same environment (runEnvironment).
    expect(functions).toHaveLength(4);
    for (const resource of functions) {
      expect(resource.Properties.Environment.Variables).toMatchObject({ MALLOC_MMAP_THRESHOLD_: '131072' });
    }
  });

  it('starts the collector every 15 minutes and keeps failed runs in an encrypted DLQ', () => {
    template.hasResourceProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: 'cron(0/15 * * * ? *)',
      State: 'ENABLED',
      Target: {
        Arn: { 'Fn::GetAtt': [fn, 'Arn'] },
        Input: '{}',
        DeadLetterConfig: { Arn: { 'Fn::GetAtt': [queue, 'Arn'] } },
        RetryPolicy: { MaximumRetryAttempts: 2 },
      },
    });
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: { Ref: fn },
      MaximumRetryAttempts: 2,
      DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [queue, 'Arn'] } } },
    });
    template.hasResourceProperties('AWS::SQS::Queue', { SqsManagedSseEnabled: true });
    template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
  });

  it('alarms to the topic on function errors and on dead letters', () => {
    const common = {
      Threshold: 1,
      EvaluationPeriods: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      TreatMissingData: 'notBreaching',
      AlarmActions: [{ Ref: topic }],
    };
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      ...common,
      Namespace: 'AWS/Lambda',
      MetricName: 'Errors',
      Dimensions: [{ Name: 'FunctionName', Value: { Ref: fn } }],
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      ...common,
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [queue, 'QueueName'] } }],
    });
  });

  it('grants the secret and the collector prefixes only, with no bucket-wide object access', () => {
    const statements = allowStatements(template, fn);
    const secret = statements.find((s) => actionsOf(s).includes('secretsmanager:GetSecretValue'));
    expect(JSON.stringify(secret?.Resource)).toMatch(/:secret:test\/qualys-\?{6}"/);

    const s3Statements = statements.filter((s) => actionsOf(s).some((action) => action.startsWith('s3:')));
    const objectGrants = s3Statements.flatMap((s) =>
      actionsOf(s).flatMap((action) =>
        resourcesOf(s)
          .map((resource) => objectSuffix(resource, bucket))
          .filter((suffix) => suffix !== undefined)
          .map((suffix) => `${action} ${suffix}`),
      ),
    );
    // Every prefix is the default subscription's (functions/core/subscription.ts, scopeKey).
    expect(objectGrants.sort()).toEqual(
      [
        's3:GetObject /state/cdr-findings/subscription=default/*',
        's3:GetObject /state/qualys/subscription=default/*',
        's3:PutObject /raw/cdr-findings/subscription=default/*',
        's3:PutObject /curated/cdr_findings/subscription=default/*',
        's3:PutObject /state/cdr-findings/subscription=default/*',
        's3:PutObject /state/qualys/subscription=default/*',
        's3:AbortMultipartUpload /raw/cdr-findings/subscription=default/*',
        's3:AbortMultipartUpload /curated/cdr_findings/subscription=default/*',
        's3:AbortMultipartUpload /state/cdr-findings/subscription=default/*',
        's3:AbortMultipartUpload /state/qualys/subscription=default/*',
        's3:DeleteObject /state/cdr-findings/subscription=default/journal/*',
      ].sort(),
    );
    for (const statement of s3Statements) {
      expect(actionsOf(statement).filter((action) => action.includes('*'))).toEqual([]);
      expect(JSON.stringify(statement.Resource)).not.toMatch(/"\/\*"/);
    }
    const list = s3Statements.find((s) => actionsOf(s).includes('s3:ListBucket'));
    expect(list?.Condition).toEqual({
      StringLike: {
        's3:prefix': ['state/cdr-findings/subscription=default/*', 'state/qualys/subscription=default/*'],
      },
    });
  });

  it.each([
    [
      'SdrInventoryFunction',
      'sdr-inventory',
      /^\/(raw|state)\/sdr-inventory\/subscription=default\/\*$|^\/curated\/sdr_[a-z]+\/subscription=default\/\*$/,
    ],
    [
      'SdrPostureFunction',
      'sdr-posture',
      /^\/(raw|state)\/sdr-posture\/subscription=default\/\*$|^\/curated\/sdr_posture\/subscription=default\/\*$/,
    ],
    [
      'SdrReportsFunction',
      'sdr-reports',
      /^\/(raw|state|reports)\/sdr-reports\/subscription=default\/\*$|^\/curated\/sdr_reports\/subscription=default\/\*$/,
    ],
  ])('confines %s to its own prefixes and the shared call-budget ledger', (idPrefix, name, allowed) => {
    const statements = allowStatements(template, ref(template, 'AWS::Lambda::Function', idPrefix));
    const suffixes = statements.flatMap((s) =>
      resourcesOf(s)
        .map((resource) => objectSuffix(resource, bucket))
        .filter((suffix) => suffix !== undefined),
    );
    expect(suffixes.length).toBeGreaterThan(0);
    for (const suffix of suffixes)
      if (suffix !== '/state/qualys/subscription=default/*') expect(suffix).toMatch(allowed);
    expect(suffixes).toContain(`/state/${name}/subscription=default/*`);
  });

  it('staggers the collectors past the hour so they rarely share the Qualys budget at the same moment', () => {
    const expressions = Object.values(template.findResources('AWS::Scheduler::Schedule')).map(
      (schedule) => (schedule as Resource).Properties.ScheduleExpression,
    );
    expect(expressions.sort()).toEqual([
      'cron(0/15 * * * ? *)',
      'cron(22 0/6 * * ? *)',
      'cron(37 0/6 * * ? *)',
      'cron(7 * * * ? *)',
    ]);
  });

  it('outputs the bucket, topic and function names', () => {
    template.hasOutput('ArchiveBucketName', { Value: { Ref: bucket } });
    template.hasOutput('AlertTopicArn', { Value: { Ref: topic } });
    template.hasOutput('CdrFindingsFunctionName', { Value: { Ref: fn } });
  });
});

describe('QualysLakeStack without email or Slack', () => {
  const { template } = synthStack({
    ...SKIP_BUNDLING,
    qualysSecretName: 'test/qualys',
    cdrQuery: 'tc.findings.cloudProvider: AWS',
    cdrScheduleMinutes: '30',
    qualysAllowedHosts: 'qualys.example.internal',
  });

  it('creates no subscriptions and no Chatbot channel', () => {
    template.resourceCountIs('AWS::SNS::Subscription', 0);
    template.resourceCountIs('AWS::Chatbot::SlackChannelConfiguration', 0);
    const keyPolicy = JSON.stringify(template.findResources('AWS::KMS::Key'));
    expect(keyPolicy).not.toContain('chatbot.amazonaws.com');
  });

  it('passes the CDR query and schedule from context', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ [ENV.cdrQuery]: 'tc.findings.cloudProvider: AWS' }) },
    });
    template.hasResourceProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: 'cron(0/30 * * * ? *)',
    });
  });

  it('lets every collector reach the allowed hosts of the context, and never plain http', () => {
    const functions = Object.values(template.findResources('AWS::Lambda::Function')) as Resource[];
    const collectors = functions.filter((fn) => JSON.stringify(fn).includes(ENV.qualysSecretId));
    expect(collectors).toHaveLength(4);
    for (const fn of collectors) {
      const variables = (fn.Properties.Environment as { Variables: Record<string, string> }).Variables;
      expect(variables[ENV.allowedHosts]).toBe('qualys.example.internal');
      expect(variables[ENV.allowHttpLoopback]).toBeUndefined();
    }
  });
});

describe('QualysLakeStack with email subscribers that each choose a minimum', () => {
  it('subscribes each address with the filter policy of its minimum, from the context', () => {
    const { template } = synthStack({
      ...SKIP_BUNDLING,
      qualysSecretName: 'qualys-lake/qualys',
      alertEmails: 'all@example.com',
      alertEmailSubscriptions: 'oncall@example.com:CRITICAL,team@example.com:medium',
    });
    const subscriptions = emailSubscriptions(template);
    expect(subscriptions).toEqual(
      expect.arrayContaining([
        ['all@example.com', null],
        ['oncall@example.com', { rank: [{ numeric: ['>=', 4] }] }],
        ['team@example.com', { rank: [{ numeric: ['>=', 2] }] }],
      ]),
    );
  });
});

describe('two QualysLake stacks in one account and region', () => {
  /**
   * Fixed names a resource claims in the account and region. Not claims: a named query's name, an
   * inline policy's (per role), a topic's display name, an alarm's metric.
   */
  const notClaims = new Set(['DisplayName', 'PolicyName', 'MetricName']);
  const claimedNames = (stackId: string) => {
    const app = testApp(FULL_CONTEXT);
    const template = Template.fromStack(new QualysLakeStack(app, stackId));
    const names: string[] = [];
    for (const [, resource] of Object.entries(
      template.toJSON().Resources as Record<string, Resource & { Type: string }>,
    )) {
      if (resource.Type === 'AWS::Athena::NamedQuery') continue;
      const properties = resource.Properties ?? {};
      const database = (properties.DatabaseInput as { Name?: unknown } | undefined)?.Name;
      for (const [key, value] of [...Object.entries(properties), ['DatabaseInput.Name', database]]) {
        if (
          typeof key === 'string' &&
          key.endsWith('Name') &&
          !notClaims.has(key) &&
          typeof value === 'string'
        )
          names.push(`${resource.Type} ${key}=${value}`);
      }
    }
    return names;
  };

  it('derive every fixed name from the stack name, so they share none', () => {
    const first = claimedNames('QualysLake');
    const second = claimedNames('QualysLakeEmea');
    expect(first).toEqual(
      expect.arrayContaining([
        'AWS::Glue::Database DatabaseInput.Name=qualys_lake',
        'AWS::Athena::WorkGroup Name=qualys-lake',
        'AWS::Chatbot::SlackChannelConfiguration ConfigurationName=QualysLake-alerts',
      ]),
    );
    expect(second).toEqual(
      expect.arrayContaining([
        'AWS::Glue::Database DatabaseInput.Name=qualys_lake_emea',
        'AWS::Athena::WorkGroup Name=qualys-lake-emea',
      ]),
    );
    // Alarms watch their own stack's metrics: the service dimension is the stack's name.
    const services = (stackId: string) => {
      const template = Template.fromStack(new QualysLakeStack(testApp(FULL_CONTEXT), stackId));
      const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm')) as Resource[];
      return new Set(
        alarms.flatMap((alarm) =>
          ((alarm.Properties.Dimensions ?? []) as { Name: string; Value: unknown }[])
            .filter((dimension) => dimension.Name === 'service')
            .map((dimension) => dimension.Value),
        ),
      );
    };
    expect(services('QualysLake')).toEqual(new Set(['qualys-lake']));
    expect(services('QualysLakeEmea')).toEqual(new Set(['qualys-lake-emea']));
    const values = (names: string[]) => new Set(names.map((name) => name.slice(name.indexOf('=') + 1)));
    const shared = [...values(first)].filter((value) => values(second).has(value));
    expect(shared).toEqual([]);
  });
});
