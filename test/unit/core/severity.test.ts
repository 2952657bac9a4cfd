import { describe, expect, it } from 'vitest';
import {
  alertsAt,
  parseMinSeverity,
  severityLabel,
  severityLevel,
  severityName,
} from '../../../functions/core/severity';

describe('severityName', () => {
  it.each([
    [1, 'LOW'],
    [2, 'MEDIUM'],
    [3, 'HIGH'],
    [4, 'CRITICAL'],
    [5, 'CRITICAL'],
    [10, 'CRITICAL'],
    [3.5, 'HIGH'],
    ['3', 'HIGH'],
    ['high', 'HIGH'],
    [' Critical ', 'CRITICAL'],
    [0, 'UNKNOWN'],
    [-1, 'UNKNOWN'],
    [null, 'UNKNOWN'],
    [undefined, 'UNKNOWN'],
    ['', 'UNKNOWN'],
    ['urgent', 'UNKNOWN'],
    [Number.NaN, 'UNKNOWN'],
  ])('names %j %s', (value, name) => {
    expect(severityName(value)).toBe(name);
  });
});

describe('severityLevel', () => {
  it('reads numbers, numeric strings and names', () => {
    expect(severityLevel(3)).toBe(3);
    expect(severityLevel('2')).toBe(2);
    expect(severityLevel('LOW')).toBe(1);
    expect(severityLevel('critical')).toBe(4);
    expect(severityLevel('')).toBeUndefined();
    expect(severityLevel({})).toBeUndefined();
  });
});

describe('parseMinSeverity', () => {
  it.each([
    ['LOW', 1],
    ['medium', 2],
    ['HIGH', 3],
    ['CRITICAL', 4],
    ['3', 3],
    ['0', 0],
  ])('reads %s as %d', (text, level) => {
    expect(parseMinSeverity(text)).toBe(level);
  });

  it.each(['', 'urgent', '-1', 'NaN', 'Infinity'])('refuses %j', (text) => {
    expect(parseMinSeverity(text)).toBeUndefined();
  });
});

describe('alertsAt', () => {
  it.each([
    [3, 3, true],
    [4, 3, true],
    [2, 3, false],
    ['HIGH', 4, false],
    ['critical', 4, true],
    // Unknown alerts whatever the minimum: missing, null, an unknown word, below the scale.
    [undefined, 4, true],
    [null, 4, true],
    ['', 4, true],
    ['urgent', 4, true],
    [0, 1, true],
    [-2, 1, true],
  ])('severity %j at minimum %d alerts: %s', (value, minimum, expected) => {
    expect(alertsAt(value, minimum)).toBe(expected);
  });
});

describe('severityLabel', () => {
  it.each([
    ['High', 'High'],
    [' Critical ', 'Critical'],
    [3, '3'],
    ['Severe', 'UNKNOWN'],
    [null, 'UNKNOWN'],
    [undefined, 'UNKNOWN'],
  ])('shows %j as %s', (value, label) => {
    expect(severityLabel(value)).toBe(label);
  });
});
