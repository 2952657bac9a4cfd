import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { PagingError } from '../../../functions/core/paging';
import { Run, type RunCounts, RunError } from '../../../functions/core/run';
import { QualysApiError } from '../../../functions/qualys/errors';
import { MemoryStore } from '../../support/memory-store';

const silent = { debug() {}, info() {}, warn() {}, error() {} };
const newRun = () =>
  new Run<RunCounts>(
    { store: new MemoryStore(), logger: silent, qualys: { budget: { callsMade: 0, rateLimitReport: {} } } },
    { objectsWritten: 0, apiCalls: 0, rateLimit: {} },
  );
const pagingError = () =>
  new PagingError('GET /sdr/api/v1/users', 'page=3', 'the page repeats the previous one', { rows: 5 });

describe('Run and paging errors', () => {
  it('starts every summary with pagingErrors: 0', async () => {
    const run = newRun();
    await run.steps(async () => {}, 'stop');
    await expect(run.finish()).resolves.toMatchObject({ pagingErrors: 0 });
  });

  it('fails the run with a RunError that carries the count and the listing named', async () => {
    const run = newRun();
    await run.steps(async () => {
      throw pagingError();
    }, 'stop');
    const finished = run.finish();

    await expect(finished).rejects.toBeInstanceOf(RunError);
    await expect(finished).rejects.toThrow(/^GET \/sdr\/api\/v1\/users at page=3: the page repeats/);
    await expect(finished).rejects.toHaveProperty('summary.pagingErrors', 1);
    await expect(finished).rejects.toHaveProperty('cause.cursor', 'page=3');
  });

  it('counts paging errors a collector caught itself, and throws other failures as they are', async () => {
    const run = newRun();
    run.countPagingError(pagingError());
    run.countPagingError(new Error('not paging'));
    const other = new Error('answered 400');
    await run.steps(async () => {
      throw other;
    }, 'stop');

    await expect(run.finish()).rejects.toBe(other);
    expect(run.summary.pagingErrors).toBe(1);
  });
});

describe('Run.spendCall: the per-run call cap', () => {
  const capped = (budget: { callsMade: number; rateLimitReport: Record<string, number | undefined> }) =>
    new Run<RunCounts>(
      {
        store: new MemoryStore(),
        logger: silent,
        qualys: { budget },
        callLimit: { limit: 3, setting: 'SDR_MAX_CALLS_PER_RUN' },
      },
      { objectsWritten: 0, apiCalls: 0, rateLimit: {} },
    );

  it('counts calls started ahead of the budget (pages read ahead), so the cap is never overshot', () => {
    const run = capped({ callsMade: 0, rateLimitReport: {} });
    run.spendCall('page 0');
    run.spendCall('page 1');
    run.spendCall('page 2');
    expect(() => run.spendCall('page 3')).toThrow(
      'call limit of 3 per run (SDR_MAX_CALLS_PER_RUN) reached before page 3; the next run resumes here',
    );
  });

  it('counts retries the budget saw without a new spendCall', () => {
    const budget = { callsMade: 0, rateLimitReport: {} };
    const run = capped(budget);
    run.spendCall('page 0');
    budget.callsMade = 3; // the first call was retried twice
    expect(() => run.spendCall('page 1')).toThrow(/call limit of 3 per run/);
  });
});

describe('Run.keepUnreadable: archive first, then judge', () => {
  it('keeps the body of a response that was not usable under the unreadable prefix, and only that', async () => {
    const store = new MemoryStore();
    const run = new Run<RunCounts>(
      {
        store,
        logger: silent,
        qualys: { budget: { callsMade: 0, rateLimitReport: {} } },
        unreadablePrefix: 'raw/cdr-findings/unreadable/',
        now: () => Date.parse('2026-05-10T01:02:03.004Z'),
      },
      { objectsWritten: 0, apiCalls: 0, rateLimit: {} },
    );
    const body = new Uint8Array(Buffer.from('<html>not a page</html>'));
    await run.steps(async () => {
      throw new QualysApiError('GET /cdr-api/rest/v1/findings', 200, 'the body is not JSON (23 bytes)', body);
    }, 'stop');
    await expect(run.finish()).rejects.toThrow(/the body is not JSON/);

    const keys = [...store.objects.keys()];
    expect(keys).toHaveLength(1);
    expect(keys[0]).toMatch(
      /^raw\/cdr-findings\/unreadable\/dt=2026-05-10\/20260510T010203004Z-[0-9a-f]{12}\.gz$/,
    );
    expect(gunzipSync(store.objects.get(keys[0] ?? '')?.body ?? new Uint8Array()).toString('utf8')).toBe(
      '<html>not a page</html>',
    );
    // Errors without a body, and runs without the prefix, archive nothing.
    expect(await run.keepUnreadable(new Error('reset'))).toBeUndefined();
  });

  it('never puts the body in the error as logged or serialised', () => {
    const error = new QualysApiError('GET /x', 200, 'unexpected response', new Uint8Array([1, 2, 3]));
    expect(error.body).toEqual(new Uint8Array([1, 2, 3]));
    expect(Object.keys(error)).not.toContain('body');
    expect(JSON.stringify(error)).not.toContain('body');
  });
});
