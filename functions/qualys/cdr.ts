import type { CallOptions, JsonResponse, QualysClient } from './client';
import { type Page, PageSchema } from './schemas';

/** CDR findings (Qualys CDR API guide, "Findings"): a Spring Page per `offSet`/`limit`. */
export const CDR_FINDINGS_PATH = '/cdr-api/rest/v1/findings';

export interface FindingsQuery {
  /** QQL, e.g. `tc.findings.cloudProvider: AWS`. */
  query: string;
  startAt: string;
  endAt: string;
  offSet: number;
  limit: number;
}

/**
 * One page of CDR findings; the items are checked one by one by the collector. `landed`: see
 * QualysClient.getJson.
 */
export function listFindings(
  client: Pick<QualysClient, 'getJson'>,
  query: FindingsQuery,
  call: CallOptions,
  landed?: () => Promise<void>,
): Promise<JsonResponse<Page>> {
  return client.getJson(CDR_FINDINGS_PATH, { ...query }, PageSchema, call, landed);
}
