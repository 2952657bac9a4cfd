import { CopyObjectCommand, DeleteObjectCommand } from '@aws-sdk/client-s3';
import { describe, expect, inject, test } from 'vitest';
import { upgradeLake } from '../../bin/cli/upgrade';
import { bucketTarget } from '../../bin/cli/upgrade-targets';
import { cdrFindingsKeys } from '../../functions/cdr-findings/keys';
import { isLegacyKey, UPGRADE_MARKER } from '../../functions/core/legacy-layout';
import type { FunctionName } from '../../functions/core/names';
import { SUBSCRIPTION_PARTITION } from '../../functions/core/subscription';
import { sdrPostureKeys } from '../../functions/sdr-posture/keys';
import { DEFAULT_CREDENTIALS, startSimulator } from '../simulator/index';
import { testLake } from '../support/fixtures';
import { lambdaContext, loadHandler } from '../support/invoke';
import { connectLocalAws, lambdaEnv } from '../support/local-aws';
import { RUN_ENV as ENV, logical } from '../support/subscription-view';

/**
 * A deployment from before subscriptions upgrades without losing anything: its collectors refuse to
 * start on the legacy layout, `qualys-lake upgrade` moves the state and curated data into the
 * `default` subscription's layout, and the next runs resume where the old deployment stopped.
 */
const DEFAULT_LEVEL = `${SUBSCRIPTION_PARTITION}=default`;

describe('upgrading a single-subscription deployment', () => {
  test('refuses to start until upgraded, then resumes from the migrated state: nothing curated or alerted twice', async ({
    onTestFinished,
  }) => {
    const aws = await connectLocalAws(inject('fauxqsEndpoint'));
    const sim = await startSimulator({ seed: 303 });
    onTestFinished(async () => {
      await sim.close();
      await aws.close();
    });
    const shared = await aws.createLake('upgrade');
    const lake = testLake(aws, shared);
    const secretId = aws.secrets.put(
      'qualys-lake/qualys',
      JSON.stringify({ baseUrl: sim.url, ...DEFAULT_CREDENTIALS }),
    );
    const run = async (name: FunctionName) =>
      (await loadHandler(name, lambdaEnv(aws, shared, secretId, ENV)))({}, lambdaContext());

    // The old deployment's runs: findings and posture curated, alerts sent, failures open.
    await run('cdr-findings');
    await run('sdr-posture');
    const firstAlerts = await lake.alerts();
    expect(firstAlerts.filter((alert) => alert.attributes.source === 'sdr-posture').length).toBeGreaterThan(
      0,
    );
    const uuidsBefore = (await lake.records<{ uuid: string }>('curated/cdr_findings/')).map(
      (record) => record.uuid,
    );
    const openFailures = Object.keys(
      (await lake.json<{ failures: object }>(sdrPostureKeys.failures)).failures,
    );
    expect(openFailures.length).toBeGreaterThan(0);
    const watermark = (await lake.json<{ watermark: string }>(cdrFindingsKeys.checkpoint)).watermark;

    // ... in the layout it left them: every key without the subscription level.
    const moved = await lake.bucketKeys();
    for (const key of moved) {
      const legacy = logical(key);
      await aws.s3.send(
        new CopyObjectCommand({ Bucket: shared.bucket, Key: legacy, CopySource: `${shared.bucket}/${key}` }),
      );
      await aws.s3.send(new DeleteObjectCommand({ Bucket: shared.bucket, Key: key }));
    }
    const legacyKeys = await lake.bucketKeys();
    expect(legacyKeys.every(isLegacyKey)).toBe(true);
    expect(legacyKeys).toContain('state/qualys/call-budget.json');

    // The new code refuses to start on it, naming the command; it writes nothing.
    for (const name of ['cdr-findings', 'sdr-posture'] as const) {
      await expect(run(name)).rejects.toThrow(
        /single-subscription deployment .*npx qualys-lake upgrade --bucket/,
      );
    }
    expect(await lake.bucketKeys()).toEqual(legacyKeys);

    // The upgrade copies state, curated data and report metadata; raw pages stay.
    const printed: string[] = [];
    const target = bucketTarget(shared.bucket, aws.s3);
    const report = await upgradeLake(target, {}, (text) => printed.push(text));
    const moves = legacyKeys.filter((key) => key.startsWith('state/') || key.startsWith('curated/'));
    expect(report.copied).toBe(moves.length);
    expect(report.legacy.state + report.legacy.curated).toBe(moves.length);
    expect(report.upgraded).toBe(true);
    expect(printed.join('\n')).toContain(`copied: ${moves.length}`);
    // Run again (an interrupted upgrade resumed): everything is in place, nothing is copied twice.
    const again = await upgradeLake(target, {}, () => undefined);
    expect(again).toMatchObject({ copied: 0, alreadyInPlace: moves.length, deleted: 0 });

    // The collectors resume where the old deployment stopped.
    await run('cdr-findings');
    await run('sdr-posture');
    const uuidsAfter = (await lake.records<{ uuid: string }>('curated/cdr_findings/')).map(
      (record) => record.uuid,
    );
    expect(uuidsAfter.length).toBe(new Set(uuidsAfter).size);
    expect(new Set(uuidsAfter)).toEqual(new Set(uuidsBefore));
    expect((await lake.json<{ watermark: string }>(cdrFindingsKeys.checkpoint)).watermark >= watermark).toBe(
      true,
    );
    expect(
      Object.keys((await lake.json<{ failures: object }>(sdrPostureKeys.failures)).failures).sort(),
    ).toEqual(openFailures.sort());
    // No alert sent twice: the findings were alerted, the failures are open already.
    expect(await lake.alerts()).toEqual([]);

    // --delete-legacy removes the legacy copies of what moved, and keeps the raw pages.
    const cleaned = await upgradeLake(target, { deleteLegacy: true }, () => undefined);
    expect(cleaned.deleted).toBe(moves.length);
    const left = await lake.bucketKeys();
    expect(left.filter(isLegacyKey).every((key) => key.startsWith('raw/'))).toBe(true);
    expect(
      left.filter((key) => key.startsWith('raw/') && !key.includes(DEFAULT_LEVEL)).length,
    ).toBeGreaterThan(0);
    expect(left).toContain(UPGRADE_MARKER);
  });
});
