import { CONNECTOR_TYPES } from '../../functions/qualys/sdr';
import { DEFAULT_CREDENTIALS, type ReportingResponse, type Simulator } from '../simulator/index';

/** One control x resource the simulator serves for a (connector, policy) pair, on a /reporting page. */
export interface ServedPostureRow {
  connectorId: number;
  connectorType: string;
  policyId: number;
  policyName: string;
  cid: string;
  criticality: string;
  resourceId: string;
  result: string;
  /** The /reporting pageNumber it is served on. */
  page: number;
}

/**
 * What the simulator serves now for every enabled connector of a known type and each policy of its
 * type, read straight from its API (the posture state is not in `sim.data`): the truth a complete
 * poll must equal. Call it before queuing any misbehaviour: its calls count as requests.
 */
export async function servedPosture(sim: Simulator): Promise<ServedPostureRow[]> {
  const login = await fetch(`${sim.url}/auth`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ ...DEFAULT_CREDENTIALS, token: 'true' }),
  });
  const token = await login.text();
  const rows: ServedPostureRow[] = [];
  for (const connector of sim.data.sdr.connectors) {
    const connectorType = CONNECTOR_TYPES[connector.connectorType];
    if (connector.isEnabled !== 1 || !connectorType) continue;
    for (const policy of sim.data.sdr.policies) {
      if (policy.connectorType !== connector.connectorType) continue;
      for (let page = 1; page < 100; page++) {
        const url = new URL('/sdr/api/v1/reporting', sim.url);
        url.search = new URLSearchParams({
          policyName: policy.name,
          connectorId: String(connector.id),
          connectorType,
          controlEvaluations: 'Pass,Fail,Error',
          pageNumber: String(page),
        }).toString();
        const response = await fetch(url, { headers: { Authorization: `Bearer ${token}` } });
        const controls = ((await response.json()) as ReportingResponse).controlDetailsSummaryDto;
        if (controls.length === 0) break;
        for (const control of controls) {
          for (const resource of control.controlEvaluationSummaryDto) {
            rows.push({
              connectorId: connector.id,
              connectorType: connector.connectorType,
              policyId: policy.id,
              policyName: policy.name,
              cid: control.cid,
              criticality: control.criticality,
              resourceId: resource.resourceId,
              result: resource.resourceEvaluationResult,
              page,
            });
          }
        }
      }
    }
  }
  return rows;
}

/** `<connectorId>:<cid>:<resourceId>`: a posture alert's alertKey and a failure's key. */
export const postureKey = (row: { connectorId: unknown; cid: unknown; resourceId: unknown }) =>
  `${String(row.connectorId)}:${String(row.cid)}:${String(row.resourceId)}`;

/** Failing (connector, cid, resource) keys, each once even when two policies share the control. */
export const failingKeys = (rows: readonly ServedPostureRow[]) =>
  [...new Set(rows.filter((row) => row.result === 'Fail').map(postureKey))].sort();
