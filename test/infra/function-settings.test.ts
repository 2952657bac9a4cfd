import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { readCdrFindingsSettings } from '../../functions/cdr-findings/config';
import type { FunctionName } from '../../functions/core/names';
import { ConfigError, type Env } from '../../functions/runtime/env';
import { readSdrInventorySettings } from '../../functions/sdr-inventory/config';
import { readSdrPostureSettings } from '../../functions/sdr-posture/config';
import { readSdrReportsSettings } from '../../functions/sdr-reports/config';
import { PROJECT_ROOT } from '../../lib/bundle';
import { parseConfig } from '../../lib/config';
import { FUNCTION_SETTINGS, parseFunctionSettings } from '../../lib/function-settings';

/**
 * The context keys that set a collector's variables accept what the function accepts, and README's
 * default is the function's own: a key can never pass synth and then fail the first run.
 */

const READERS: Record<FunctionName, (env: Env) => unknown> = {
  'cdr-findings': readCdrFindingsSettings,
  'sdr-inventory': readSdrInventorySettings,
  'sdr-posture': readSdrPostureSettings,
  'sdr-reports': readSdrReportsSettings,
};

const accepts = (read: (env: Env) => unknown, env: Env) => {
  try {
    read(env);
    return true;
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return false;
  }
};

const synthAccepts = (key: string, value: unknown) => {
  try {
    parseFunctionSettings(
      (name) => (name === key ? value : undefined),
      (name, problem) => new ConfigError(`${name} ${problem}`, name),
    );
    return true;
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    expect(error.key).toBe(key);
    return false;
  }
};

const SAMPLES = ['-1', '0', '1', '2.5', '10', '31', '32', '200', '201', '1000', '1001', '8760', '8761'];
const WORDS = ['true', 'false', 'yes', 'maybe', 'Low', 'high', 'CRITICAL', 'Severe', '3', 'abc'];

describe.each(FUNCTION_SETTINGS.map((setting) => [setting.key, setting] as const))('%s', (_key, setting) => {
  it.each(setting.collectors)('has the default %s has', (collector) => {
    const read = READERS[collector];
    expect(read({ [setting.env]: setting.default })).toEqual(read({}));
  });

  it.each(setting.collectors)('is accepted at synth exactly where %s accepts it', (collector) => {
    const read = READERS[collector];
    const samples = setting.value.kind === 'integer' ? SAMPLES : WORDS;
    const range =
      setting.value.kind === 'integer'
        ? [setting.value.min - 1, setting.value.min, setting.value.max, setting.value.max + 1].map(String)
        : [];
    for (const sample of [...samples, ...range]) {
      expect(synthAccepts(setting.key, sample), `${setting.key}=${sample}`).toBe(
        accepts(read, { [setting.env]: sample }),
      );
    }
  });
});

describe('README', () => {
  const readme = readFileSync(path.join(PROJECT_ROOT, 'README.md'), 'utf8');
  /** The keys of the CDK context table: the first column of its rows. */
  const documented = () => {
    const section = readme.slice(readme.indexOf('### CDK context'));
    const table = section.slice(0, section.indexOf('\n\n', section.indexOf('| key')));
    return new Set(
      table
        .split('\n')
        .filter((line) => line.startsWith('| `'))
        .flatMap((line) =>
          [...(line.split('|')[1] ?? '').matchAll(/`([A-Za-z]+)`/g)].map((match) => match[1]),
        ),
    );
  };

  it('documents every context key the stack reads, in one table, and no other', () => {
    const read = new Set<string>();
    parseConfig((key) => {
      read.add(key);
      return key === 'qualysSecretName' ? 'q' : undefined;
    });
    expect([...documented()].sort()).toEqual([...read].sort());
  });

  it('names the variable each collector setting sets, with its default', () => {
    for (const setting of FUNCTION_SETTINGS) {
      const row = readme.split('\n').find((line) => line.startsWith(`| \`${setting.key}\``));
      expect(row, setting.key).toBeDefined();
      expect(row, setting.key).toContain(`\`${setting.env}\``);
      expect(row, setting.key).toContain(`\`${setting.default}\``);
    }
  });
});
