/**
 * CDR severity: the findings API filters by name (LOW|MEDIUM|HIGH|CRITICAL) but returns a number
 * (the vendor sample shows `"severity": 3`). This is the one mapping between the two; README
 * documents it. Numbers above 4 are treated as CRITICAL, so an unexpected scale never hides a
 * finding from alerting.
 */
export const SEVERITY_LEVELS = { LOW: 1, MEDIUM: 2, HIGH: 3, CRITICAL: 4 } as const;
export type SeverityName = keyof typeof SEVERITY_LEVELS;

const NAMES = Object.keys(SEVERITY_LEVELS) as SeverityName[];

/** The numeric level of a severity as the API returns it (number, numeric string or name). */
export function severityLevel(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (typeof value === 'string') {
    const upper = value.trim().toUpperCase();
    if (upper in SEVERITY_LEVELS) return SEVERITY_LEVELS[upper as SeverityName];
    const asNumber = Number(upper);
    if (upper !== '' && Number.isFinite(asNumber)) return asNumber;
  }
  return undefined;
}

/** The name for a numeric level: 1 LOW, 2 MEDIUM, 3 HIGH, 4 and above CRITICAL, else UNKNOWN. */
export function severityName(value: unknown): SeverityName | 'UNKNOWN' {
  const level = severityLevel(value);
  if (level === undefined || level < 1) return 'UNKNOWN';
  return NAMES[Math.min(Math.floor(level), NAMES.length) - 1] ?? 'UNKNOWN';
}

/** Parses ALERT_MIN_SEVERITY: a name or a number. */
export function parseMinSeverity(text: string): number | undefined {
  const level = severityLevel(text);
  return level !== undefined && level >= 0 ? level : undefined;
}

/**
 * Whether a severity (or SaaSDR criticality) alerts at `minimum`: at or above it, or UNKNOWN
 * (missing, an unknown word, below 1). Fail-safe: a value qualys-lake cannot read is never a
 * reason to stay silent.
 */
export function alertsAt(value: unknown, minimum: number): boolean {
  return severityName(value) === 'UNKNOWN' || (severityLevel(value) ?? 0) >= minimum;
}

/** A severity as shown in an alert: the value as Qualys names it when known, else UNKNOWN. */
export const severityLabel = (value: unknown): string =>
  severityName(value) === 'UNKNOWN' ? 'UNKNOWN' : String(value).trim();
