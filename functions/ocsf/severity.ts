import { type SeverityName, severityName } from '../core/severity';
import type { FieldsTaken } from './fields';

/**
 * OCSF `severity_id` (dictionary.json, OCSF 1.1.0): 0 Unknown, 1 Informational, 2 Low, 3 Medium,
 * 4 High, 5 Critical, 6 Fatal, 99 Other. Qualys has no informational level: its four levels map
 * one to one onto Low..Critical, and what qualys-lake cannot read (core/severity.ts UNKNOWN) is 0.
 */
const OCSF_SEVERITY: Record<SeverityName | 'UNKNOWN', { severity_id: number; severity: string }> = {
  UNKNOWN: { severity_id: 0, severity: 'Unknown' },
  LOW: { severity_id: 2, severity: 'Low' },
  MEDIUM: { severity_id: 3, severity: 'Medium' },
  HIGH: { severity_id: 4, severity: 'High' },
  CRITICAL: { severity_id: 5, severity: 'Critical' },
};

/** `severity_id` and its caption for a CDR severity (1-4 or a name) or a posture criticality (Low..Critical). */
export const ocsfSeverity = (value: unknown): { severity_id: number; severity: string } =>
  OCSF_SEVERITY[severityName(value)];

/** `severity_id` 1 Informational: an inventory record reports a state, not a risk. */
export const INFORMATIONAL = { severity_id: 1, severity: 'Informational' } as const;

/** The OCSF severity of `field`; the Qualys value stays in `unmapped` when it maps to Unknown (0). */
export function takeSeverity(taken: FieldsTaken, field: string, value: unknown) {
  const severity = ocsfSeverity(value);
  if (severity.severity_id !== 0) taken.paths.add(field);
  return severity;
}
