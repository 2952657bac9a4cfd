import { S3Client } from '@aws-sdk/client-s3';
import { clientDefaults } from './client-timeouts';

/** S3: long enough to send one 8 MiB part of a streamed upload. */
export const S3_REQUEST_TIMEOUT_MS = 30_000;

/**
 * How every S3 client of the functions is built. S3_FORCE_PATH_STYLE=true turns on path-style
 * addressing for emulators without virtual hosts. A checksum is computed only where S3 requires one
 * (DeleteObjects) or the caller gives it (a streamed upload's CRC32, s3-store.ts): a PUT of a body
 * in memory is already signed with the SHA-256 of that body (x-amz-content-sha256), which S3 checks,
 * so the SDK's default CRC32 on every PUT added CPU and no protection.
 */
export const s3ClientConfig = () => ({
  ...clientDefaults(S3_REQUEST_TIMEOUT_MS),
  forcePathStyle: process.env.S3_FORCE_PATH_STYLE === 'true',
  requestChecksumCalculation: 'WHEN_REQUIRED' as const,
});

/**
 * The S3 client, built once per execution environment with the SDK's default configuration
 * otherwise, so AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_S3 can point it at an emulator.
 */
export const s3 = new S3Client(s3ClientConfig());
