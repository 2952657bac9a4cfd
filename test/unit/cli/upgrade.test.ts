import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { main } from '../../../bin/cli/main';
import { sameObject } from '../../../bin/cli/upgrade';
import { folderTarget } from '../../../bin/cli/upgrade-targets';
import { UPGRADE_MARKER } from '../../../functions/core/legacy-layout';

/** A local lake as a single-subscription deployment left it. */
const LEGACY = {
  'state/cdr-findings/checkpoint.json': '{"version":2,"watermark":"2026-11-28T00:00:00.000Z"}\n',
  'state/cdr-findings/seen/2026-11-27.json': '{"ids":["a"]}\n',
  'state/qualys/call-budget.json': '{"inFlight":[]}\n',
  'curated/cdr_findings/dt=2026-11-27/w-offset=0000000-abc.json.gz': 'curated',
  'raw/cdr-findings/dt=2026-11-27/window=w/offset=0000000.json.gz': 'raw page',
  'reports/sdr-reports/dt=2026-11-20/f1/report.csv': 'a,b\n',
  'reports/sdr-reports/dt=2026-11-20/f1/metadata.json':
    '{"file":{"key":"reports/sdr-reports/dt=2026-11-20/f1/report.csv"}}\n',
  'athena-results/q.csv': 'x',
};
const MOVES = [
  'state/cdr-findings/checkpoint.json',
  'state/cdr-findings/seen/2026-11-27.json',
  'state/qualys/call-budget.json',
  'curated/cdr_findings/dt=2026-11-27/w-offset=0000000-abc.json.gz',
  'reports/sdr-reports/dt=2026-11-20/f1/metadata.json',
];
const upgraded = (key: string) => {
  const [top, name, ...rest] = key.split('/');
  return [top, name, 'subscription=default', ...rest].join('/');
};

let dir: string;
const file = (key: string) => path.join(dir, ...key.split('/'));
const exists = async (key: string) =>
  readFile(file(key)).then(
    () => true,
    () => false,
  );
async function keys(): Promise<string[]> {
  const found: string[] = [];
  for await (const object of folderTarget(dir).list('')) found.push(object.key);
  return found.sort();
}
async function upgrade(...flags: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(
    ['node', 'qualys-lake', 'upgrade', '--local', dir, ...flags],
    (text) => out.push(text),
    (text) => err.push(text),
  );
  return { code, out: out.join('\n'), err: err.join('\n') };
}

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'qualys-lake-upgrade-'));
  for (const [key, body] of Object.entries(LEGACY)) {
    await mkdir(path.dirname(file(key)), { recursive: true });
    await writeFile(file(key), body);
  }
});
afterEach(() => rm(dir, { recursive: true, force: true }));

describe('qualys-lake upgrade --local', () => {
  it('--dry-run counts what would move and writes nothing', async () => {
    const result = await upgrade('--dry-run');
    expect(result.code).toBe(0);
    expect(result.out).toContain('legacy objects that move: 5 (state 3, curated 1, report metadata 1)');
    expect(result.out).toContain('would copy: 5');
    expect(await keys()).toEqual(Object.keys(LEGACY).sort());
  });

  it('copies state, curated data and report metadata into subscription default, keeps the rest, and is idempotent', async () => {
    const first = await upgrade();
    expect(first.code).toBe(0);
    expect(first.out).toContain('copied: 5');
    for (const key of MOVES) {
      expect(await readFile(file(upgraded(key)), 'utf8')).toBe(LEGACY[key as keyof typeof LEGACY]);
      expect(await exists(key), `${key} is kept without --delete-legacy`).toBe(true);
    }
    expect(await exists(upgraded('raw/cdr-findings/dt=2026-11-27/window=w/offset=0000000.json.gz'))).toBe(
      false,
    );
    expect(await exists(upgraded('reports/sdr-reports/dt=2026-11-20/f1/report.csv'))).toBe(false);
    expect(JSON.parse(await readFile(file(UPGRADE_MARKER), 'utf8'))).toMatchObject({ copied: 5 });

    const second = await upgrade('--delete-legacy');
    expect(second.out).toContain('copied: 0 (0 bytes); already in place: 5');
    expect(second.out).toContain('legacy objects deleted: 5');
    expect(await keys()).toEqual(
      [
        ...MOVES.map(upgraded),
        UPGRADE_MARKER,
        'raw/cdr-findings/dt=2026-11-27/window=w/offset=0000000.json.gz',
        'reports/sdr-reports/dt=2026-11-20/f1/report.csv',
        'athena-results/q.csv',
      ].sort(),
    );
  });

  it('copies again what differs from its copy, before the upgrade is complete', async () => {
    const key = 'state/cdr-findings/checkpoint.json';
    await mkdir(path.dirname(file(upgraded(key))), { recursive: true });
    await writeFile(file(upgraded(key)), '{"version":2,"watermark":"2026-11-01T00:00:00.000Z"}\n');
    expect((await upgrade()).out).toContain('copied: 5');
    expect(await readFile(file(upgraded(key)), 'utf8')).toBe(LEGACY[key]);
  });

  it('refuses a call without a lake, or --dry-run with --delete-legacy', async () => {
    const out: string[] = [];
    expect(
      await main(
        ['node', 'qualys-lake', 'upgrade'],
        () => undefined,
        (text) => out.push(text),
      ),
    ).toBe(2);
    expect(out.join('\n')).toContain('name the lake to upgrade: --bucket NAME or --local [DIR]');
    expect((await upgrade('--dry-run', '--delete-legacy')).code).toBe(2);
  });

  it('compares S3 objects by size and ETag, and by size only where an ETag is a multipart one', () => {
    expect(sameObject({ key: 'a', size: 3, etag: '"x"' }, { key: 'b', size: 3, etag: '"x"' })).toBe(true);
    expect(sameObject({ key: 'a', size: 3, etag: '"x"' }, { key: 'b', size: 3, etag: '"y"' })).toBe(false);
    expect(sameObject({ key: 'a', size: 3, etag: '"x-2"' }, { key: 'b', size: 3, etag: '"y"' })).toBe(true);
    expect(sameObject({ key: 'a', size: 3 }, { key: 'b', size: 4 })).toBe(false);
  });
});
