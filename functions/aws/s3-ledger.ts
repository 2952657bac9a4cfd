import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { CALL_BUDGET_LEDGER_KEY } from '../core/names';
import { emptyLedger, type LedgerState } from '../qualys/ledger';
import {
  decodeLedger,
  encodeLedger,
  type LedgerStore,
  type LoadedLedger,
  type SaveResult,
} from '../qualys/ledger-store';
import { isAbsent, statusOf } from './s3-absent';

/**
 * Someone else wrote first. S3 answers 412 PreconditionFailed when the ETag no longer matches (or
 * the key exists despite `If-None-Match: *`), 409 ConditionalRequestConflict when a conflicting
 * write was in progress, and 404 NoSuchKey when the object under `If-Match` was deleted (S3 User
 * Guide, "How to prevent object overwrites with conditional writes"). Each means: read again.
 */
function isConflict(error: unknown): boolean {
  const name = (error as { name?: string }).name;
  const status = statusOf(error);
  return (
    name === 'PreconditionFailed' ||
    name === 'ConditionalRequestConflict' ||
    name === 'NoSuchKey' ||
    status === 412 ||
    status === 409 ||
    status === 404
  );
}

/**
 * The call-budget ledger in one S3 object, updated with conditional writes: `If-Match: <ETag>` to
 * replace the version that was read, `If-None-Match: *` to create it. No table, no new service and
 * no IAM beyond the collectors' S3 prefix grants; README says why this is enough.
 */
export class S3LedgerStore implements LedgerStore {
  constructor(
    private readonly client: S3Client,
    readonly bucket: string,
    readonly key: string = CALL_BUDGET_LEDGER_KEY,
  ) {}

  async load(): Promise<LoadedLedger> {
    let text: string;
    let version: string | undefined;
    try {
      const response = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.key }));
      text = (await response.Body?.transformToString('utf-8')) ?? '';
      version = response.ETag;
    } catch (error) {
      if (await isAbsent(this.client, this.bucket, this.key, error)) return { state: emptyLedger() };
      throw this.failure('read', error);
    }
    return { ...decodeLedger(text), version };
  }

  async save(state: LedgerState, expected: string | undefined): Promise<SaveResult> {
    try {
      const response = await this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: this.key,
          Body: encodeLedger(state),
          ContentType: 'application/json',
          ...(expected === undefined ? { IfNoneMatch: '*' } : { IfMatch: expected }),
        }),
      );
      return { ok: true, version: response.ETag };
    } catch (error) {
      if (isConflict(error)) return { ok: false };
      throw this.failure('write', error);
    }
  }

  private failure(action: 'read' | 'write', error: unknown): Error {
    return new Error(
      `could not ${action} the call-budget ledger s3://${this.bucket}/${this.key}: ${(error as Error).message}`,
      { cause: error },
    );
  }
}
