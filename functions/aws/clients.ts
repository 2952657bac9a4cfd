import { S3Client } from '@aws-sdk/client-s3';
import { SNSClient } from '@aws-sdk/client-sns';

/**
 * SDK clients, built once per execution environment with the SDK's default configuration, so
 * AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL_SNS can point them at emulators.
 * S3_FORCE_PATH_STYLE=true turns on path-style addressing for emulators without virtual hosts.
 */
export const s3 = new S3Client({ forcePathStyle: process.env.S3_FORCE_PATH_STYLE === 'true' });
export const sns = new SNSClient({});
