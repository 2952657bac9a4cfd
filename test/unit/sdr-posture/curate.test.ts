import * as v from 'valibot';
import { describe, expect, it } from 'vitest';
import { ControlSchema } from '../../../functions/qualys/sdr';
import {
  controlStatusOf,
  curateControls,
  evidenceOf,
  normalizeResult,
  observe,
} from '../../../functions/sdr-posture/curate';
import { emptyObservation, type OpenFailure } from '../../../functions/sdr-posture/model';
import { control, resource } from '../../support/posture-api';

/** Controls as the collector curates them: parsed by the reporting schema. */
const parsed = (...items: unknown[]) => v.parse(v.array(ControlSchema), items);

const page = {
  poll: { pollId: '20250510T000000.000Z', date: '2025-05-10' },
  pair: {
    connectorId: 2245,
    connectorType: 'OFFICE365',
    connectorName: 'O365 p01',
    policyId: 71,
    policyName: 'CIS',
  },
  pageNumber: 2,
  rawKey: 'raw/key',
  curatedKey: 'curated/key',
  ingestedAt: '2025-05-10T00:00:01.000Z',
};

describe('normalizeResult', () => {
  it('reads Pass, Fail and Error in any case, and anything else as Unknown', () => {
    expect(['pass', ' FAIL ', 'Error', 'Failed', null, 1].map(normalizeResult)).toEqual([
      'Pass',
      'Fail',
      'Error',
      'Unknown',
      'Unknown',
      'Unknown',
    ]);
  });
});

describe('controlStatusOf', () => {
  it("takes the API's misspelled field first, then the corrected one", () => {
    expect(
      controlStatusOf({ cid: 1, controlEvalutaionStatus: 'Fail', controlEvaluationStatus: 'Pass' }),
    ).toBe('Fail');
    expect(controlStatusOf({ cid: 1, controlEvaluationStatus: 'Pass' })).toBe('Pass');
    expect(controlStatusOf({ cid: 1 })).toBeNull();
  });
});

describe('evidenceOf', () => {
  it('keeps evidence as text, objects as JSON, clipped to 1000 characters', () => {
    const [long] = evidenceOf([
      { evidenceKey: 'k', evidenceSuccess: { on: true }, evidenceFail: 'x'.repeat(2000) },
    ]);
    expect(long?.evidenceKey).toBe('k');
    expect(long?.evidenceSuccess).toBe('{"on":true}');
    expect(long?.evidenceFail).toHaveLength(1000);
    expect(long?.evidenceFail?.endsWith('…')).toBe(true);
    expect(evidenceOf(null)).toEqual([]);
    expect(evidenceOf([{}])).toEqual([{ evidenceKey: null, evidenceSuccess: null, evidenceFail: null }]);
  });
});

describe('curateControls', () => {
  it('makes one row and one observation per control x resource, and one for a control without resources', () => {
    const controls = parsed(
      control('70116', [resource('a.com', 'Fail'), resource('b.com', 'PASS')]),
      control('70102', [], { controlEvaluationSummaryDto: null, controlEvalutaionStatus: 'Error' }),
    );
    const { rows, observations } = curateControls(controls, { subscriptionId: 'sub-1' }, page);

    expect(rows.map((row) => [row.cid, row.resourceId, row.resourceEvaluationResult])).toEqual([
      ['70116', 'a.com', 'Fail'],
      ['70116', 'b.com', 'PASS'],
      ['70102', null, null],
    ]);
    expect(rows[0]).toMatchObject({
      connectorId: 2245,
      subscriptionId: 'sub-1',
      policyName: 'CIS',
      controlEvaluationStatus: 'Fail',
      firstScannedDate: '2025-04-01T04:42:49Z',
      lake_run_id: '20250510T000000.000Z',
      lake_ingested_at: '2025-05-10T00:00:01.000Z',
      lake_raw_key: 'raw/key',
      lake_connector_id: '2245',
      lake_policy_id: '71',
      lake_page: 2,
    });
    expect(rows[0]).not.toHaveProperty('controlEvalutaionStatus');
    expect(rows[0]).not.toHaveProperty('controlEvaluationSummaryDto');
    expect(observations.map((seen) => [seen.alertKey, seen.result])).toEqual([
      ['2245:70116:a.com', 'Fail'],
      ['2245:70116:b.com', 'Pass'],
      ['2245:70102:', 'Error'],
    ]);
    expect(observations[0]).toMatchObject({
      pollId: '20250510T000000.000Z',
      policyId: 71,
      criticality: 'High',
      evidence: [{ evidenceKey: 'Setting is enabled', evidenceSuccess: 'null', evidenceFail: 'false' }],
      rawKey: 'raw/key',
      curatedKey: 'curated/key',
    });
  });
});

describe('observe', () => {
  const open = { policies: { '71': 'CIS' } } as unknown as OpenFailure;
  const [fail, pass] = curateControls(
    parsed(control('70116', [resource('a.com', 'Fail')]), control('70116', [resource('a.com', 'Pass')])),
    {},
    page,
  ).observations;

  it('keeps failures, and results of failures this policy holds open', () => {
    const observed = emptyObservation();
    if (!fail || !pass) throw new Error('expected two observations');
    observe(observed, pass, {});
    expect(observed.cleared).toEqual({});
    observe(observed, pass, { [pass.alertKey]: open });
    expect(Object.keys(observed.cleared)).toEqual([pass.alertKey]);
    observe(observed, fail, { [pass.alertKey]: open });
    expect(observed.failing[fail.alertKey]).toBe(fail);
    expect(observed.cleared).toEqual({});
    // Once failing on one page, passing on another does not clear it.
    observe(observed, pass, { [pass.alertKey]: open });
    expect(observed.cleared).toEqual({});
  });
});
