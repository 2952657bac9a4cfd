import { describe, expect, it } from 'vitest';
import { levelIcon, rankAttribute } from '../../../../functions/core/alerts/levels';

describe('rankAttribute', () => {
  it.each([
    ['LOW', '1'],
    ['Medium', '2'],
    [3, '3'],
    ['CRITICAL', '4'],
    ['7', '7'],
  ])('ranks %s as %s', (value, rank) => {
    expect(rankAttribute(value)).toBe(rank);
  });

  it.each([null, undefined, 'Severe', 0])(
    'ranks the unreadable level %s above CRITICAL, so every minimum lets it through',
    (value) => {
      expect(rankAttribute(value)).toBe('5');
    },
  );
});

describe('levelIcon', () => {
  it('keeps 🚨 for the levels from urgentFrom up', () => {
    expect(['LOW', 'MEDIUM', 'HIGH', 'CRITICAL'].map((level) => levelIcon(level, 3))).toEqual([
      ':information_source:',
      ':warning:',
      ':rotating_light:',
      ':rotating_light:',
    ]);
    expect(['Low', 'Medium', 'High', 'Critical', null].map((level) => levelIcon(level, 4))).toEqual([
      ':information_source:',
      ':information_source:',
      ':warning:',
      ':rotating_light:',
      ':warning:',
    ]);
  });
});
