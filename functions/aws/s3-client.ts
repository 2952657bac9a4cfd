import { S3Client } from '@aws-sdk/client-s3';
import { requestHandlerTimeouts } from './client-timeouts';

/** S3: long enough to send one 8 MiB part of a streamed upload. */
export const S3_REQUEST_TIMEOUT_MS = 30_000;

/**
 * The S3 client, built once per execution environment with the SDK's default configuration, so
 * AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_S3 can point it at an emulator. S3_FORCE_PATH_STYLE=true
 * turns on path-style addressing for emulators without virtual hosts.
 */
export const s3 = new S3Client({
  forcePathStyle: process.env.S3_FORCE_PATH_STYLE === 'true',
  requestHandler: requestHandlerTimeouts(S3_REQUEST_TIMEOUT_MS),
});
