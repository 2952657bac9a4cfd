import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { RunError } from '../../../functions/core/run';
import { MAX_PAIR_ATTEMPTS } from '../../../functions/sdr-posture/collector';
import { sdrPostureKeys } from '../../../functions/sdr-posture/keys';
import type { FailureState, PostureCheckpoint } from '../../../functions/sdr-posture/model';
import { jsonResponse } from '../../support/fake-qualys';
import { CIS, control, evidence, resource, SITE, setup } from '../../support/posture-api';

describe('sdr-posture collector core', () => {
  it('curates one row per control x resource with the API fields, and sets bad controls aside', async () => {
    const { run, rows, keys, json, store, api, warnings, reportingRequests } = setup();
    const summary = await run();

    expect(summary).toMatchObject({
      pollComplete: true,
      connectors: {
        listed: 4,
        polled: 2,
        disabled: 1,
        unknownType: [{ id: '2400', connectorType: 'DROPBOX' }],
      },
      pairs: { total: 2, done: 2, remaining: 0 },
      rows: 7,
      rejected: 3,
    });
    expect(warnings).toContain('Skipping a connector of a type /sdr/api/v1/reporting does not know');

    const curated = rows();
    expect(
      curated.map((row) => `${row.cid}/${row.resourceId}/${row.controlEvaluationStatus}`).sort(),
    ).toEqual([
      '70101/tenant/Fail',
      '70102/null/Error',
      `70116/QualysSSCMSDev.com/Fail`,
      `70116/QualysSSCMSDev.onmicrosoft.com/Fail`,
      `70121/${SITE}/Fail`,
      '70201///Pass',
      '70201//Sales/EMEA/Pass',
    ]);
    const site = curated.find((row) => row.resourceId === SITE);
    expect(site).toMatchObject({
      connectorId: 2245,
      connectorType: 'OFFICE365',
      connectorName: 'O365 p01',
      subscriptionId: 'sub-1',
      policyName: CIS,
      controlName: 'Control 70121',
      criticality: 'High',
      isRemediable: 'No',
      lastEvaluatedDate: '2025-05-09T07:02:03Z',
      firstScannedDate: '2025-04-01T04:42:49Z',
      resourceEvaluationResult: 'Fail',
      evidenceDetails: evidence(true),
      lake_connector_id: '2245',
      lake_policy_id: 'cis/../71',
      lake_page: 1,
    });
    expect(site?.lake_raw_key).toBe(
      `raw/sdr-posture/dt=2025-05-10/run=${summary.pollId}/connector=2245/policy=cis%2F..%2F71/page=00001.json.gz`,
    );
    expect(site?.lake_run_id).toBe(summary.pollId);
    expect(curated.find((row) => row.cid === '70101')).toMatchObject({
      controlName: null,
      criticality: null,
      isRemediable: null,
      evidenceDetails: null,
    });

    // Every key is made of safe segments; resource ids never enter a key.
    for (const key of store.objects.keys()) {
      expect(key.split('/').every((segment) => segment !== '..' && segment !== '.')).toBe(true);
      expect(key).not.toContain('sharepoint');
    }
    const rejected = keys('state/sdr-posture/rejected/');
    expect(rejected).toEqual([
      `state/sdr-posture/rejected/run=${summary.pollId}/connector=2245/policy=cis%2F..%2F71/page=00002.json`,
      `state/sdr-posture/rejected/run=${summary.pollId}/connectors/page=00002.json`,
      `state/sdr-posture/rejected/run=${summary.pollId}/policies/page=00001.json`,
    ]);
    expect(json<{ rejected: Array<{ reason: string }> }>(rejected[0] ?? '').rejected[0]?.reason).toMatch(
      /^cid: /,
    );

    // GSUITE is asked for as "Google Workspace"; every request carries the evaluations.
    const gsuite = reportingRequests().find(
      (request) => request.url.searchParams.get('connectorId') === '2193',
    );
    expect(gsuite?.url.searchParams.get('connectorType')).toBe('Google Workspace');
    expect(gsuite?.url.searchParams.get('controlEvaluations')).toBe('Pass,Fail,Error');

    // No credential or token anywhere in the bucket.
    for (const { body } of store.objects.values()) {
      const bytes = body[0] === 0x1f && body[1] === 0x8b ? gunzipSync(body) : Buffer.from(body);
      expect(bytes.toString('utf8')).not.toContain(api.password);
      for (const token of api.issuedTokens) expect(bytes.toString('utf8')).not.toContain(token);
    }
  });

  it('sets aside a null and a string among the connectors and the controls of a page; the rest is curated and compared', async () => {
    const { run, rows, keys, json, overrides, published } = setup({
      pages: new Map([[`2245|${CIS}`, [[null, control('70116', [resource('tenant', 'Fail')]), 'oops']]]]),
    });
    overrides.push((request) =>
      request.url.pathname === '/sdr/api/v1/connectors'
        ? jsonResponse({
            content: [null, { id: 2245, connectorType: 'OFFICE365', name: 'O365 p01', isEnabled: 1 }, 'x'],
            last: true,
          })
        : undefined,
    );
    const summary = await run();

    expect(summary).toMatchObject({ pollComplete: true, pairs: { total: 1, done: 1 }, rows: 1 });
    expect(rows().map((row) => `${row.cid}/${row.resourceId}`)).toEqual(['70116/tenant']);
    expect(published.map((alert) => alert.attributes.alertKey)).toEqual(['2245:70116:tenant']);
    const rejected = keys('state/sdr-posture/rejected/');
    const records = (key: string) =>
      json<{ rejected: Array<{ index: number; record: unknown }> }>(key).rejected.map(({ index, record }) => [
        index,
        record,
      ]);
    expect(records(rejected.find((key) => key.includes('/connector=2245/')) ?? '')).toEqual([
      [0, null],
      [2, 'oops'],
    ]);
    expect(records(rejected.find((key) => key.includes('/connectors/')) ?? '')).toEqual([
      [0, null],
      [2, 'x'],
    ]);
    expect(summary.rejected).toBe(4 + 1); // and the policy without a name of the default list
  });

  it('opens a failure per failing resource (criticality unknown counts) and alerts each once', async () => {
    const { run, json, published } = setup();
    const summary = await run();

    const failures = json<FailureState>(sdrPostureKeys.failures).failures;
    expect(Object.keys(failures).sort()).toEqual([
      '2245:70101:tenant',
      '2245:70116:QualysSSCMSDev.com',
      `2245:70121:${SITE}`,
    ]);
    expect(summary.newFailures).toBe(3);
    expect(published.map((message) => message.attributes.alertKey).sort()).toEqual(
      Object.keys(failures).sort(),
    );

    await run();
    expect(published).toHaveLength(3);
  });

  it('alerts each failure once when S3 refused the failure state: the run that could not save it holds its alerts', async () => {
    const { run, store, json, published } = setup();
    // Both pairs' saves fail; the next run compares them again and queues the same alerts.
    store.failOnce((key) => key === sdrPostureKeys.failures);
    store.failOnce((key) => key === sdrPostureKeys.failures);
    await expect(run()).rejects.toThrow(/could not be read.*simulated S3 write failure/);

    expect(await run()).toMatchObject({ pollComplete: true, alertsPublished: 3 });
    const failures = json<FailureState>(sdrPostureKeys.failures).failures;
    expect(Object.keys(failures)).toHaveLength(3);
    expect(published.map((message) => message.attributes.alertKey).sort()).toEqual(
      Object.keys(failures).sort(),
    );
  });

  it('fails a bad page clearly, keeps what was read, and the next run resumes from that page', async () => {
    const { run, overrides, keys, json, reportingRequests, published } = setup();
    let broken = true;
    overrides.push((request) =>
      broken &&
      request.url.searchParams.get('connectorId') === '2245' &&
      request.url.searchParams.get('pageNumber') === '2'
        ? jsonResponse({ policyName: CIS, controlDetailsSummaryDto: 'oops' })
        : undefined,
    );

    const failed = run();
    await expect(failed).rejects.toThrow(
      /connector 2245, policy "CIS Microsoft 365 Foundations Benchmark, v1.4.0", page 2: GET \/sdr\/api\/v1\/reporting answered 200: unexpected response: controlDetailsSummaryDto/,
    );
    // The error carries the run's summary, so the handler still reports what the run did.
    await expect(failed).rejects.toBeInstanceOf(RunError);
    await expect(failed).rejects.toHaveProperty('summary.pairErrors', [
      expect.objectContaining({ connectorId: '2245', page: 2, gaveUp: false }),
    ]);
    const checkpoint = json<PostureCheckpoint>(sdrPostureKeys.checkpoint);
    expect(
      checkpoint.poll?.pairs.map((pair) => [pair.connectorId, pair.status, pair.nextPage, pair.attempts]),
    ).toEqual([
      [2245, 'pending', 2, 1],
      [2193, 'done', 2, undefined],
    ]);
    const pollId = checkpoint.poll?.pollId;
    expect(keys(`raw/sdr-posture/dt=2025-05-10/run=${pollId}/connector=2245/`)).toHaveLength(1);
    expect(keys('curated/sdr_posture/')).toHaveLength(2);
    // The O365 pair is compared only once it is read whole: no alert from its first page yet.
    expect(published).toEqual([]);

    broken = false;
    const before = reportingRequests().length;
    const summary = await run();
    expect(summary).toMatchObject({ resumedPoll: true, pollComplete: true, pollId });
    expect(
      reportingRequests()
        .slice(before)
        .map((request) => request.url.searchParams.get('pageNumber')),
    ).toEqual(['2', '3']);
    expect(published).toHaveLength(3);
  });

  it('gives a pair up after repeated failures so that the poll completes, keeping its failures', async () => {
    const { run, overrides, json } = setup();
    await run();
    const open = json<FailureState>(sdrPostureKeys.failures).failures;
    overrides.push((request) =>
      request.url.searchParams.get('connectorId') === '2245'
        ? new Response('bad request', { status: 400 })
        : undefined,
    );
    for (let attempt = 1; attempt < MAX_PAIR_ATTEMPTS; attempt++)
      await expect(run()).rejects.toThrow(/answered 400/);
    await expect(run()).rejects.toThrow(/answered 400/);

    const checkpoint = json<PostureCheckpoint>(sdrPostureKeys.checkpoint);
    expect(checkpoint.poll).toBeUndefined();
    expect(checkpoint.lastPoll?.skippedPairs).toBe(1);
    expect(json<FailureState>(sdrPostureKeys.failures).failures).toEqual(open);
  });

  it('fails a pair whose pages repeat (pageNumber ignored), counts a paging error and claims nothing from it', async () => {
    const { run, overrides, json, reportingRequests, published } = setup();
    await run();
    published.length = 0;
    const open = json<FailureState>(sdrPostureKeys.failures).failures;
    // Page 1 now passes everything but is served for every page number.
    const page1 = [control('70116', [resource('QualysSSCMSDev.com', 'Pass')])];
    overrides.push((request) =>
      request.url.searchParams.get('connectorId') === '2245'
        ? jsonResponse({ policyName: CIS, controlDetailsSummaryDto: page1 })
        : undefined,
    );
    const before = reportingRequests().length;
    const failed = run();

    await expect(failed).rejects.toThrow(
      /GET \/sdr\/api\/v1\/reporting \(connector 2245, .*\) at pageNumber=2: the page repeats the previous one/,
    );
    await expect(failed).rejects.toHaveProperty('summary.pagingErrors', 1);
    expect(reportingRequests().length - before).toBe(4); // O365 pages 1 and 2 (a repeat), Gsuite pages 1 and 2
    const pair = json<PostureCheckpoint>(sdrPostureKeys.checkpoint).poll?.pairs[0];
    expect(pair).toMatchObject({ connectorId: 2245, status: 'pending', nextPage: 2, attempts: 1 });
    // The pair was not read whole: no recovery is claimed, its failures stay open.
    expect(published).toEqual([]);
    expect(json<FailureState>(sdrPostureKeys.failures).failures).toEqual(open);

    // The next run resumes at page 2 and sees the repeat again from the saved cids of page 1.
    const again = reportingRequests().length;
    await expect(run()).rejects.toHaveProperty('summary.pagingErrors', 1);
    expect(
      reportingRequests()
        .slice(again)
        .map((request) => request.url.searchParams.get('pageNumber')),
    ).toEqual(['2']);
  });

  it('stops cleanly at SDR_MAX_CALLS_PER_RUN and resumes the same poll', async () => {
    const { run, json, published } = setup({ settings: { maxCallsPerRun: 4 } });
    const first = await run();
    expect(first.stoppedEarly).toMatch(/SDR_MAX_CALLS_PER_RUN/);
    expect(first.apiCalls).toBe(4);
    expect(json<PostureCheckpoint>(sdrPostureKeys.checkpoint).poll?.pollId).toBe(first.pollId);

    const results = [first];
    for (let run_ = 0; run_ < 5 && !results.at(-1)?.pollComplete; run_++) results.push(await run());
    expect(results.at(-1)?.pollComplete).toBe(true);
    expect(new Set(results.map((summary) => summary.pollId)).size).toBe(1);
    // Behind (LagSeconds) since the first poll started, until it completed.
    const { lastPoll } = json<PostureCheckpoint>(sdrPostureKeys.checkpoint);
    expect(first.freshAsOf).toBe(lastPoll?.startedAt);
    expect(results.at(-1)?.freshAsOf).toBe(lastPoll?.completedAt);
    expect(published.map((message) => message.attributes.alertKey).sort()).toEqual([
      '2245:70101:tenant',
      '2245:70116:QualysSSCMSDev.com',
      `2245:70121:${SITE}`,
    ]);
  });

  it('stops before a call that could outlast the deadline, and the next run continues', async () => {
    const { run, json, api } = setup();
    // The client needs a whole request timeout (30 s) before the deadline to start a call.
    const stopped = await run(api.time + 20_000);
    expect(stopped.stoppedEarly).toMatch(/deadline/);
    expect(stopped.apiCalls).toBe(0);
    expect(json<PostureCheckpoint>(sdrPostureKeys.checkpoint).poll?.listing).toMatchObject({
      list: 'connectors',
      nextPage: 0,
    });

    const resumed = await run();
    expect(resumed).toMatchObject({
      resumedPoll: true,
      pollComplete: true,
      pollId: stopped.pollId,
      newFailures: 3,
    });
  });
});
