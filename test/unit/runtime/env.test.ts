import { describe, expect, it } from 'vitest';
import {
  ConfigError,
  integer,
  optionalString,
  parseBoolean,
  parsed,
  parseHostList,
  requiredString,
} from '../../../functions/runtime/env';

describe('env helpers', () => {
  it('requiredString returns the trimmed value, and names the variable when it is missing or blank', () => {
    expect(requiredString({ ARCHIVE_BUCKET: ' my-bucket ' }, 'ARCHIVE_BUCKET')).toBe('my-bucket');
    for (const env of [{}, { ARCHIVE_BUCKET: '' }, { ARCHIVE_BUCKET: '   ' }]) {
      expect(() => requiredString(env, 'ARCHIVE_BUCKET')).toThrow(ConfigError);
      expect(() => requiredString(env, 'ARCHIVE_BUCKET')).toThrow(/ARCHIVE_BUCKET/);
      expect(() => requiredString(env, 'ARCHIVE_BUCKET')).toThrow(
        expect.objectContaining({ key: 'ARCHIVE_BUCKET' }),
      );
    }
  });

  it('optionalString falls back when the variable is missing or blank', () => {
    expect(optionalString({}, 'CDR_QUERY', 'default')).toBe('default');
    expect(optionalString({ CDR_QUERY: '  ' }, 'CDR_QUERY', 'default')).toBe('default');
    expect(optionalString({ CDR_QUERY: 'x' }, 'CDR_QUERY', 'default')).toBe('x');
  });

  it('integer reads whole numbers in range and falls back when unset', () => {
    const range = { min: 1, max: 10 };
    expect(integer({}, 'N', 5, range)).toBe(5);
    expect(integer({ N: ' 7 ' }, 'N', 5, range)).toBe(7);
    expect(integer({ N: '10' }, 'N', 5, range)).toBe(10);
    expect(integer({ N: '1' }, 'N', 5, range)).toBe(1);
  });

  it.each(['0', '11', '2.5', 'seven', 'NaN', 'Infinity'])(
    'integer refuses %j, naming the variable and range',
    (text) => {
      expect(() =>
        integer({ QUALYS_MAX_RETRIES: text }, 'QUALYS_MAX_RETRIES', 5, { min: 1, max: 10 }),
      ).toThrow(/QUALYS_MAX_RETRIES.*1.*10/);
    },
  );

  it('parsed applies the parser to the value or the fallback, naming the variable on failure', () => {
    const parse = (text: string) => (text === 'yes' ? true : text === 'no' ? false : undefined);
    expect(parsed({}, 'FLAG', 'yes', parse, 'yes or no')).toBe(true);
    expect(parsed({ FLAG: 'no' }, 'FLAG', 'yes', parse, 'yes or no')).toBe(false);
    expect(() => parsed({ FLAG: 'maybe' }, 'FLAG', 'yes', parse, 'yes or no')).toThrow(
      /FLAG must be yes or no, got "maybe"/,
    );
  });

  it('parseHostList reads a comma list of bare host names, lower-cased, and refuses anything else', () => {
    expect(parseHostList('')).toEqual([]);
    expect(parseHostList(' Qualys.Example.Internal , 10.0.0.5,qualys.example.internal ')).toEqual([
      'qualys.example.internal',
      '10.0.0.5',
    ]);
    for (const text of [
      'https://gw.example.org',
      'gw.example.org:443',
      'gw.example.org/path',
      '*.example.org',
      'a b',
    ])
      expect(parseHostList(text)).toBeUndefined();
  });

  it('parseBoolean reads true/false and their usual spellings only', () => {
    expect(['true', 'TRUE', '1', 'yes', 'on'].map(parseBoolean)).toEqual([true, true, true, true, true]);
    expect(['false', '0', 'no', 'off'].map(parseBoolean)).toEqual([false, false, false, false]);
    expect(parseBoolean('maybe')).toBeUndefined();
  });
});
