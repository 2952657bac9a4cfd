import { mkdir, rm, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { CreateTopicCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import {
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { buildApp } from 'fauxqs';
import { DEFAULT_CREDENTIALS } from '../simulator/index';
import { type SecretsManagerFake, startSecretsManagerFake } from './secrets-manager-fake';

/**
 * Local AWS for tests and `npm start`: fauxqs (S3, SNS, SQS) embedded with buildApp() on
 * 127.0.0.1, and the Secrets Manager fake. `env()` is what a collector Lambda needs to reach them.
 */
export interface LocalAws {
  endpoint: string;
  secrets: SecretsManagerFake;
  s3: S3Client;
  sns: SNSClient;
  sqs: SQSClient;
  region: string;
  /** Creates the archive bucket, the alert topic and an SQS queue subscribed to it. */
  createLake(name: string): Promise<Lake>;
  close(): Promise<void>;
}

export interface Lake {
  bucket: string;
  topicArn: string;
  queueUrl: string;
}

/** An alert as an SQS subscriber receives it. */
export interface ReceivedAlert {
  subject?: string;
  attributes: Record<string, string>;
  /** The `default` body (AWS Chatbot JSON), parsed. */
  chat: { content: { title: string; description: string }; [key: string]: unknown };
  /** The `email` body. */
  email: string;
}

const credentials = { accessKeyId: 'test', secretAccessKey: 'test' };

/** Starts fauxqs in-process on 127.0.0.1 (its CLI would bind 0.0.0.0). */
export async function startFauxqs(
  region = 'us-east-1',
): Promise<{ endpoint: string; close(): Promise<void> }> {
  const app = buildApp({ logger: false, defaultRegion: region });
  const address = await app.listen({ host: '127.0.0.1', port: 0 });
  return { endpoint: address.replace('localhost', '127.0.0.1'), close: () => app.close() };
}

/** fauxqs and the Secrets Manager fake, started here (the local run). */
export async function startLocalAws(region = 'us-east-1'): Promise<LocalAws> {
  const fauxqs = await startFauxqs(region);
  const aws = await connectLocalAws(fauxqs.endpoint, region);
  return {
    ...aws,
    async close() {
      await aws.close();
      await fauxqs.close();
    },
  };
}

/**
 * Clients for a fauxqs already running at `endpoint` (tests: started by vitest globalSetup),
 * plus a Secrets Manager fake of this process's own.
 */
export async function connectLocalAws(endpoint: string, region = 'us-east-1'): Promise<LocalAws> {
  const secrets = await startSecretsManagerFake(region);
  const config = { region, endpoint, credentials };
  const s3 = new S3Client({ ...config, forcePathStyle: true });
  const sns = new SNSClient(config);
  const sqs = new SQSClient(config);
  let lakes = 0;
  return {
    endpoint,
    secrets,
    s3,
    sns,
    sqs,
    region,
    async createLake(name) {
      // Unique per process and call, so test files sharing one fauxqs never see each other's data.
      const unique = `${name}-${process.pid}-${++lakes}`;
      const bucket = `${unique}-archive`;
      await s3.send(new CreateBucketCommand({ Bucket: bucket }));
      const { TopicArn } = await sns.send(new CreateTopicCommand({ Name: `${unique}-alerts` }));
      const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: `${unique}-alerts-queue` }));
      if (!TopicArn || !QueueUrl) throw new Error('fauxqs did not create the topic or queue');
      const attributes = await sqs.send(
        new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }),
      );
      await sns.send(
        new SubscribeCommand({ TopicArn, Protocol: 'sqs', Endpoint: attributes.Attributes?.QueueArn ?? '' }),
      );
      return { bucket, topicArn: TopicArn, queueUrl: QueueUrl };
    },
    async close() {
      s3.destroy();
      sns.destroy();
      sqs.destroy();
      await secrets.close();
    },
  };
}

/**
 * Collector settings that land a whole lake in a few runs (pages of 1,000 findings and 200 SaaSDR
 * rows, calls to spare): for the tests that then query the lake.
 */
export const WHOLE_LAKE_SETTINGS: Record<string, string> = {
  CDR_PAGE_SIZE: '1000',
  CDR_LAG_MINUTES: '0',
  SDR_PAGE_SIZE: '200',
  SDR_MAX_CALLS_PER_RUN: '1000',
  SDR_REPORTS_MAX_PER_RUN: '20',
  QUALYS_CALL_RESERVE: '0',
  QUALYS_REQUEST_TIMEOUT_MS: '10000',
};

/** The environment a collector Lambda gets, pointed at the local emulators. */
export function lambdaEnv(aws: LocalAws, lake: Lake, secretId: string, extra: Record<string, string> = {}) {
  return {
    AWS_REGION: aws.region,
    AWS_DEFAULT_REGION: aws.region,
    AWS_ACCESS_KEY_ID: credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
    AWS_ENDPOINT_URL: aws.endpoint,
    AWS_ENDPOINT_URL_S3: aws.endpoint,
    AWS_ENDPOINT_URL_SNS: aws.endpoint,
    AWS_ENDPOINT_URL_SECRETS_MANAGER: aws.secrets.url,
    S3_FORCE_PATH_STYLE: 'true',
    QUALYS_SECRET_ID: secretId,
    ARCHIVE_BUCKET: lake.bucket,
    ALERT_TOPIC_ARN: lake.topicArn,
    POWERTOOLS_METRICS_DISABLED: 'true',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    POWERTOOLS_LOG_LEVEL: 'WARN',
    // The simulator listens on 127.0.0.1 over plain http (tests, npm start, npm run bench).
    QUALYS_ALLOW_HTTP_LOOPBACK: 'true',
    ...extra,
  };
}

/**
 * A lake on local AWS for a run against the simulator at `simulatorUrl` (`npm start`, the local
 * backfill): the bucket and topic, the secret with the simulator's credentials, the Lambda env.
 */
export async function simulatedDeployment(
  aws: LocalAws,
  simulatorUrl: string,
  extra: Record<string, string> = {},
) {
  const lake = await aws.createLake('local');
  const secretId = aws.secrets.put(
    'qualys-lake/qualys',
    JSON.stringify({ baseUrl: simulatorUrl, ...DEFAULT_CREDENTIALS }),
  );
  return { lake, env: lambdaEnv(aws, lake, secretId, { POWERTOOLS_LOG_LEVEL: 'ERROR', ...extra }) };
}

export async function listKeys(aws: LocalAws, bucket: string, prefix = ''): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  for (let page = 0; page < 1000; page++) {
    const response = await aws.s3.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
    );
    keys.push(...(response.Contents ?? []).map((item) => item.Key ?? ''));
    if (!response.IsTruncated) break;
    token = response.NextContinuationToken;
  }
  return keys.sort();
}

/** Copies every object of the bucket to `dir` (emptied first), keys as paths: the local lake. */
export async function mirrorBucket(aws: LocalAws, bucket: string, dir: string): Promise<string[]> {
  const keys = await listKeys(aws, bucket);
  await rm(dir, { recursive: true, force: true });
  for (const key of keys) {
    const file = path.join(dir, ...key.split('/'));
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, await getBytes(aws, bucket, key));
  }
  return keys;
}

export async function getBytes(aws: LocalAws, bucket: string, key: string): Promise<Uint8Array> {
  const response = await aws.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return (await response.Body?.transformToByteArray()) ?? new Uint8Array();
}

export async function getJson<T = unknown>(aws: LocalAws, bucket: string, key: string): Promise<T> {
  const bytes = await getBytes(aws, bucket, key);
  const isGzip = bytes[0] === 0x1f && bytes[1] === 0x8b;
  return JSON.parse((isGzip ? gunzipSync(bytes) : Buffer.from(bytes)).toString('utf8')) as T;
}

export async function getNdjson<T = Record<string, unknown>>(
  aws: LocalAws,
  bucket: string,
  key: string,
): Promise<T[]> {
  const text = gunzipSync(await getBytes(aws, bucket, key)).toString('utf8');
  return text
    .split('\n')
    .filter((line) => line.trim())
    .map((line) => JSON.parse(line) as T);
}

/** Every record of every curated object under a prefix. */
export async function curatedRecords<T = Record<string, unknown>>(
  aws: LocalAws,
  bucket: string,
  prefix: string,
) {
  const records: T[] = [];
  for (const key of await listKeys(aws, bucket, prefix))
    records.push(...(await getNdjson<T>(aws, bucket, key)));
  return records;
}

/** Receives and deletes every alert on the queue (bounded: stops after an empty receive). */
export async function drainAlerts(
  aws: LocalAws,
  queueUrl: string,
  maxBatches = 200,
): Promise<ReceivedAlert[]> {
  const alerts: ReceivedAlert[] = [];
  for (let batch = 0; batch < maxBatches; batch++) {
    const response = await aws.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }),
    );
    const messages = response.Messages ?? [];
    if (messages.length === 0) break;
    for (const message of messages) alerts.push(parseSnsEnvelope(message.Body ?? '{}'));
    await aws.sqs.send(
      new DeleteMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: messages.map((message, index) => ({
          Id: String(index),
          ReceiptHandle: message.ReceiptHandle,
        })),
      }),
    );
  }
  return alerts;
}

/**
 * An SNS notification as delivered to SQS. Real SNS gives SQS the `default` body of a
 * `MessageStructure: 'json'` message; fauxqs 1.9 delivers the whole JSON, so both are accepted.
 */
export function parseSnsEnvelope(body: string): ReceivedAlert {
  const envelope = JSON.parse(body) as {
    Subject?: string;
    Message: string;
    MessageAttributes?: Record<string, { Value: string }>;
  };
  const message = JSON.parse(envelope.Message) as Record<string, unknown>;
  const structured = typeof message.default === 'string' && typeof message.email === 'string';
  return {
    subject: envelope.Subject,
    attributes: Object.fromEntries(
      Object.entries(envelope.MessageAttributes ?? {}).map(([name, value]) => [name, value.Value]),
    ),
    chat: (structured ? JSON.parse(message.default as string) : message) as ReceivedAlert['chat'],
    email: structured ? (message.email as string) : '',
  };
}
