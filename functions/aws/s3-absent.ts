import { ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';

/** The HTTP status of an SDK error, when it has one. */
export const statusOf = (error: unknown) =>
  (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;

const isMissing = (error: unknown) => {
  const name = (error as { name?: string }).name;
  return name === 'NoSuchKey' || name === 'NotFound' || statusOf(error) === 404;
};

/**
 * Whether a failed read means "no such object". S3 answers 403 instead of 404 for a missing key
 * unless the caller may list the bucket, and the collectors may list only their own prefixes
 * (an `s3:prefix` condition that the read itself does not carry). So a 403 is checked with a
 * listing of exactly that key, which the prefix grant allows; a real permission error stays one.
 */
export async function isAbsent(
  client: S3Client,
  bucket: string,
  key: string,
  error: unknown,
): Promise<boolean> {
  if (isMissing(error)) return true;
  if (statusOf(error) !== 403) return false;
  try {
    const listing = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: key, MaxKeys: 1 }));
    return !(listing.Contents ?? []).some((item) => item.Key === key);
  } catch {
    return false;
  }
}
