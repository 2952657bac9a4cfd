import {
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { S3LedgerStore } from '../../../functions/aws/s3-ledger';
import { CALL_BUDGET_LEDGER_KEY } from '../../../functions/core/names';
import type { LedgerState } from '../../../functions/qualys/ledger';
import { encodeLedger } from '../../../functions/qualys/ledger-store';

const s3 = mockClient(S3Client);
const store = () => new S3LedgerStore(new S3Client({ region: 'us-east-1' }), 'archive');

const serviceError = (name: string, status: number) =>
  new S3ServiceException({ name, $fault: 'client', $metadata: { httpStatusCode: status }, message: name });

/** The part of a GetObject body the adapter reads. */
const body = (text: string) => ({ transformToString: async () => text }) as never;

const state: LedgerState = {
  gateway: {
    limit: 300,
    windowSec: 3600,
    remaining: 7,
    observedAt: Date.parse('2025-05-10T00:00:00.000Z'),
    reopensAt: Date.parse('2025-05-10T01:00:00.000Z'),
  },
  inFlight: [],
};

describe('S3LedgerStore', () => {
  beforeEach(() => {
    s3.reset();
  });

  it(`reads ${CALL_BUDGET_LEDGER_KEY} with its ETag as the version`, async () => {
    s3.on(GetObjectCommand).resolves({ Body: body(encodeLedger(state)), ETag: '"abc"' });

    expect(await store().load()).toEqual({ state, version: '"abc"' });
    expect(s3.commandCalls(GetObjectCommand)[0]?.args[0].input).toEqual({
      Bucket: 'archive',
      Key: 'state/qualys/call-budget.json',
    });
  });

  it('reads a missing ledger as an empty one without a version (404, or 403 with nothing listed)', async () => {
    s3.on(GetObjectCommand).rejects(serviceError('NoSuchKey', 404));
    expect(await store().load()).toEqual({ state: { inFlight: [] } });

    s3.reset();
    s3.on(GetObjectCommand).rejects(serviceError('AccessDenied', 403));
    s3.on(ListObjectsV2Command).resolves({ Contents: [] });
    expect(await store().load()).toEqual({ state: { inFlight: [] } });
  });

  it('creates the ledger only if none exists: If-None-Match: *', async () => {
    s3.on(PutObjectCommand).resolves({ ETag: '"v1"' });

    expect(await store().save(state, undefined)).toEqual({ ok: true, version: '"v1"' });
    const input = s3.commandCalls(PutObjectCommand)[0]?.args[0].input;
    expect(input).toMatchObject({ Bucket: 'archive', Key: CALL_BUDGET_LEDGER_KEY, IfNoneMatch: '*' });
    expect(input?.IfMatch).toBeUndefined();
    expect(JSON.parse(String(input?.Body))).toMatchObject({ format: 1, gateway: { remaining: 7 } });
  });

  it('replaces only the version it read: If-Match: <ETag>', async () => {
    s3.on(PutObjectCommand).resolves({ ETag: '"v2"' });

    expect(await store().save(state, '"v1"')).toEqual({ ok: true, version: '"v2"' });
    const input = s3.commandCalls(PutObjectCommand)[0]?.args[0].input;
    expect(input).toMatchObject({ IfMatch: '"v1"' });
    expect(input?.IfNoneMatch).toBeUndefined();
  });

  it.each([
    ['412 PreconditionFailed', serviceError('PreconditionFailed', 412)],
    ['409 ConditionalRequestConflict', serviceError('ConditionalRequestConflict', 409)],
    ['404 NoSuchKey (deleted since it was read)', serviceError('NoSuchKey', 404)],
  ])('reports a conflict when S3 answers %s', async (_name, error) => {
    s3.on(PutObjectCommand).rejects(error);
    expect(await store().save(state, '"v1"')).toEqual({ ok: false });
  });

  it('fails on any other error, naming the ledger', async () => {
    s3.on(PutObjectCommand).rejects(serviceError('AccessDenied', 403));
    await expect(store().save(state, '"v1"')).rejects.toThrow(
      /could not write the call-budget ledger s3:\/\/archive\/state\/qualys\/call-budget\.json: AccessDenied/,
    );
    s3.on(GetObjectCommand).rejects(serviceError('SlowDown', 503));
    await expect(store().load()).rejects.toThrow(/could not read the call-budget ledger/);
  });
});
