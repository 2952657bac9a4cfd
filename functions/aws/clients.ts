import { S3Client } from '@aws-sdk/client-s3';
import { SNSClient } from '@aws-sdk/client-sns';

/**
 * SDK clients, built once per execution environment with the SDK's default configuration, so
 * AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL_SNS can point them at emulators.
 * S3_FORCE_PATH_STYLE=true turns on path-style addressing for emulators without virtual hosts.
 *
 * Both get timeouts (the SDK's own default is to wait forever): a connection must open within
 * CONNECTION_TIMEOUT_MS and a response must start within the request timeout, else the SDK's
 * retries take over. `throwOnRequestTimeout` makes the request timeout an error; without it
 * @smithy/node-http-handler only logs a warning.
 */
export const CONNECTION_TIMEOUT_MS = 3_000;
/** S3: long enough to send one 8 MiB part of a streamed upload. */
export const S3_REQUEST_TIMEOUT_MS = 30_000;
/** SNS: a PublishBatch of ten messages normally answers in well under a second. */
export const SNS_REQUEST_TIMEOUT_MS = 5_000;

const timeouts = (requestTimeout: number) => ({
  connectionTimeout: CONNECTION_TIMEOUT_MS,
  requestTimeout,
  throwOnRequestTimeout: true,
});

export const s3 = new S3Client({
  forcePathStyle: process.env.S3_FORCE_PATH_STYLE === 'true',
  requestHandler: timeouts(S3_REQUEST_TIMEOUT_MS),
});
export const sns = new SNSClient({ requestHandler: timeouts(SNS_REQUEST_TIMEOUT_MS) });
