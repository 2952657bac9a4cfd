import * as v from 'valibot';
import type { CallOptions, JsonResponse, QualysClient } from './client';
import type { HttpResponse } from './http';
import { pathSegment } from './path-segment';
import { looseCount, type Page, PageSchema } from './schemas';

/**
 * SaaSDR endpoints and the response shapes the collectors rely on (see the SaaSDR API guide).
 * List endpoints answer Spring Pages (`PageSchema` in ./schemas); `page` counts from 0 and `size`
 * is at most 200. Ids from API data go into paths only through `pathSegment`, which refuses empty and
 * dot segments (UnsafePathSegmentError).
 */
export const SDR_MAX_PAGE_SIZE = 200;

export const SDR_PATHS = {
  connectors: '/sdr/api/v1/connectors',
  scanners: (connectorId: string | number) =>
    `/sdr/api/v1/connectors/${pathSegment(connectorId, 'connectorId')}/scanners`,
  users: '/sdr/api/v1/users',
  groups: '/sdr/api/v1/groups',
  documents: '/sdr/api/v1/documents',
  applications: '/sdr/api/v1/applications',
  meetings: '/sdr/api/v1/meetings',
  reports: '/sdr/api/v1/reports',
  policies: '/sdr/api/v1/policy',
  policy: (policyId: string | number) => `/sdr/api/v1/policy/${pathSegment(policyId, 'policyId')}`,
  reporting: '/sdr/api/v1/reporting',
  /** Where every report download starts: the endpoint, without a file. */
  reportDownloads: '/sdr/api/v1/report/download/',
  reportDownload: (fileUuid: string) => `/sdr/api/v1/report/download/${pathSegment(fileUuid, 'fileUuid')}`,
} as const;

/**
 * Connector types as the connector list names them, and as /reporting's `connectorType`
 * parameter wants them: the guide lists "Google Workspace, OFFICE365, SALESFORCE, ZOOM" for
 * reporting while connectors say GSUITE.
 */
export const CONNECTOR_TYPES: Record<string, string> = {
  GSUITE: 'Google Workspace',
  OFFICE365: 'OFFICE365',
  SALESFORCE: 'SALESFORCE',
  ZOOM: 'ZOOM',
};

const id = v.union([v.number(), v.pipe(v.string(), v.nonEmpty())]);

export const ConnectorSchema = v.looseObject({
  id,
  connectorType: v.nullish(v.string()),
  name: v.nullish(v.string()),
  isEnabled: v.nullish(v.union([v.number(), v.boolean()])),
});
export type Connector = v.InferOutput<typeof ConnectorSchema>;

export const PolicySchema = v.looseObject({
  id,
  name: v.pipe(v.string(), v.nonEmpty()),
  connectorType: v.nullish(v.string()),
  connectors: v.nullish(v.array(v.looseObject({ id: v.nullish(id), connectorType: v.nullish(v.string()) }))),
});
export type Policy = v.InferOutput<typeof PolicySchema>;

export const ReportSchema = v.looseObject({
  fileUuid: v.pipe(v.string(), v.nonEmpty()),
  status: v.nullish(v.string()),
  fileFormat: v.nullish(v.string()),
  reportName: v.nullish(v.string()),
});
export type Report = v.InferOutput<typeof ReportSchema>;

/** Evidence of one resource for one control. */
const ResourceEvaluationSchema = v.looseObject({
  resourceId: v.nullish(v.union([v.string(), v.number()])),
  resourceEvaluationResult: v.nullish(v.string()),
  evidenceDetails: v.nullish(v.array(v.looseObject({}))),
});

/** One control; `controlEvalutaionStatus` is spelled as the API spells it. */
export const ControlSchema = v.looseObject({
  cid: v.union([v.string(), v.number()]),
  controlName: v.nullish(v.string()),
  criticality: v.nullish(v.string()),
  controlEvalutaionStatus: v.nullish(v.string()),
  lastEvaluatedDate: v.nullish(v.string()),
  controlEvaluationSummaryDto: v.nullish(v.array(ResourceEvaluationSchema)),
});
export type Control = v.InferOutput<typeof ControlSchema>;

/**
 * GET /sdr/api/v1/reporting. `pageNumber` runs "1 to n for (totalBatch)" (SaaSDR API guide,
 * Reporting APIs), but the guide's sample ends before any paging field: `totalBatch` ends the
 * listing when the API sends it, else a page without controls does.
 */
export const ReportingSchema = v.looseObject({
  policyName: v.nullish(v.string()),
  connectorId: v.nullish(v.union([v.number(), v.string()])),
  connectorType: v.nullish(v.string()),
  // Controls are checked one by one (ControlSchema) once the page is archived.
  controlDetailsSummaryDto: v.nullish(v.array(v.unknown())),
  totalBatch: looseCount,
});
export type Reporting = v.InferOutput<typeof ReportingSchema>;

/** The SaaSDR list endpoints answered as Spring Pages with `page` (from 0) and `size`. */
export type SdrList =
  | 'connectors'
  | 'users'
  | 'groups'
  | 'documents'
  | 'applications'
  | 'meetings'
  | 'reports'
  | 'policies';

type Reader = Pick<QualysClient, 'getJson'>;

/** One page of a SaaSDR list. */
export function listSdrPage(
  client: Reader,
  list: SdrList,
  query: { page: number; size: number },
  call: CallOptions,
): Promise<JsonResponse<Page>> {
  return client.getJson(SDR_PATHS[list], query, PageSchema, call);
}

/** One page of a connector's scanners. */
export function listScanners(
  client: Reader,
  connectorId: string | number,
  query: { page: number; size: number },
  call: CallOptions,
): Promise<JsonResponse<Page>> {
  return client.getJson(SDR_PATHS.scanners(connectorId), query, PageSchema, call);
}

/** One policy's detail: a Page holding the one policy (API guide, "Policy APIs"). */
export function getPolicyDetail(
  client: Reader,
  policyId: string | number,
  call: CallOptions,
): Promise<JsonResponse<Page>> {
  return client.getJson(SDR_PATHS.policy(policyId), {}, PageSchema, call);
}

export interface ReportingQuery {
  policyName: string;
  connectorId: string;
  /** As /reporting names it: see {@link CONNECTOR_TYPES}. */
  connectorType: string;
  /** `Pass,Fail,Error` or a part of it. */
  controlEvaluations: string;
  /** From 1. */
  pageNumber: number;
}

/** One page of posture evidence for one connector and policy. */
export function getReporting(
  client: Reader,
  query: ReportingQuery,
  call: CallOptions,
): Promise<JsonResponse<Reporting>> {
  return client.getJson(SDR_PATHS.reporting, { ...query }, ReportingSchema, call);
}

/** A report file, as a response whose body the caller streams (and must consume or cancel). */
export function downloadReport(
  client: Pick<QualysClient, 'getStream'>,
  fileUuid: string,
  call: CallOptions,
): Promise<HttpResponse> {
  return client.getStream(SDR_PATHS.reportDownload(fileUuid), call);
}
