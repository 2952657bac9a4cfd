/** Route handlers: pure functions from a request URL to a reply (transport concerns live in server.ts). */

import { type CdrFinding, matchCdrField, type StoredFinding, severityNumber } from './data/cdr';
import { POLICIES } from './data/controls';
import { EVALUATION_RESULTS, type EvaluationResult, type Posture, type ReportFile } from './data/posture';
import type { SdrDataset, SdrReport } from './data/sdr';
import { cdrPage, emptied, sdrPage, servedCursor, shaped } from './page';
import { evaluateQql, parseQql, QqlError, type QqlNode, valueMatches } from './qql';
import type { PagingBehaviour } from './types';

export type Reply = { kind: 'json'; status: number; body: unknown } | { kind: 'download'; file: ReportFile };

export interface World {
  now(): number;
  /** Sorted newest first (timestamp desc, then uuid). */
  findings: StoredFinding[];
  /** Bumped whenever `findings` changes, so selections made before are made again. */
  findingsRevision: number;
  /** A finding used to validate QQL terms before filtering. */
  probe: CdrFinding;
  sdr: SdrDataset;
  posture: Posture;
  reportingPageSize: number;
  reportFile(report: SdrReport): ReportFile;
  /** How pages are served now (control.setPaging replaces it). */
  paging: PagingBehaviour;
  /** Items served in every answer of a list, by path (control.injectItems). */
  injected: Map<string, { items: readonly unknown[]; at: number }>;
}

/** `items` with what control.injectItems put on `path`. */
function withInjected<T>(world: World, path: string, items: readonly T[]): readonly (T | unknown)[] {
  const extra = world.injected.get(path);
  if (!extra) return items;
  return [...items.slice(0, extra.at), ...extra.items, ...items.slice(extra.at)];
}

const json = (status: number, body: unknown): Reply => ({ kind: 'json', status, body });

function error(world: World, status: number, path: string, message: string): Reply {
  const text =
    { 400: 'Bad Request', 404: 'Not Found', 405: 'Method Not Allowed' }[status as 400 | 404 | 405] ?? 'Error';
  return json(status, { timestamp: new Date(world.now()).toISOString(), status, error: text, message, path });
}

class BadRequest extends Error {}

/** Integer query parameter with a default; BadRequest when malformed or out of range. */
function intParam(params: URLSearchParams, name: string, fallback: number, min: number, max: number): number {
  const raw = params.get(name);
  if (raw === null || raw.trim() === '') return fallback;
  if (!/^-?\d+$/.test(raw.trim()))
    throw new BadRequest(`Parameter '${name}' must be an integer, got '${raw}'`);
  const n = Number(raw);
  if (n < min || n > max)
    throw new BadRequest(`Parameter '${name}' must be between ${min} and ${max}, got ${n}`);
  return n;
}

function missing(params: URLSearchParams, names: string[]): string[] {
  return names.filter((n) => !params.get(n)?.trim());
}

const ISO_RE = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/;

function isoParam(params: URLSearchParams, name: string): number {
  const raw = (params.get(name) ?? '').trim();
  const ms = Date.parse(raw);
  if (!ISO_RE.test(raw) || Number.isNaN(ms))
    throw new BadRequest(`Parameter '${name}' must be an ISO-8601 timestamp, got '${raw}'`);
  return ms;
}

const CDR_FINDINGS = '/cdr-api/rest/v1/findings';

export function route(world: World, method: string, url: URL): Reply {
  const path = url.pathname.length > 1 ? url.pathname.replace(/\/+$/, '') : url.pathname;
  try {
    const reply = dispatch(world, path, url.searchParams);
    if (!reply) return error(world, 404, url.pathname, `No endpoint ${url.pathname}`);
    if (method !== 'GET') return error(world, 405, url.pathname, `Method ${method} not allowed`);
    return reply();
  } catch (e) {
    if (e instanceof BadRequest || e instanceof QqlError) return error(world, 400, url.pathname, e.message);
    throw e;
  }
}

/**
 * Makes ahead of time, while the latency runs, what `route` keeps between the pages of a CDR
 * listing (its matching findings), so that the reply once the latency is over costs the page alone.
 * What the reply holds is still decided by `route` then: the kept selection is checked against the
 * findings and the clock as it is.
 */
export function prepare(world: World, method: string, url: URL): void {
  const path = url.pathname.length > 1 ? url.pathname.replace(/\/+$/, '') : url.pathname;
  if (method !== 'GET' || path !== CDR_FINDINGS) return;
  try {
    findings(world, path, url.searchParams);
  } catch {
    // A bad request is answered by `route`, after the latency.
  }
}

/** Returns a thunk so that the method check happens before any parameter validation. */
function dispatch(world: World, path: string, params: URLSearchParams): (() => Reply) | undefined {
  if (path === CDR_FINDINGS) return () => findings(world, path, params);
  const m = /^\/sdr\/api\/v1\/(.+)$/.exec(path);
  if (!m) return undefined;
  const rest = m[1] as string;
  const sdr = world.sdr;
  const list = (items: readonly object[], sorted: boolean) => () =>
    sdrList(world, withInjected(world, path, items), params, sorted);
  switch (rest) {
    case 'connectors':
      return list(sdr.connectors, false);
    case 'users':
      return list(sdr.users, true);
    case 'groups':
      return list(sdr.groups, true);
    case 'documents':
      return list(sdr.documents, true);
    case 'applications':
      return list(sdr.applications, true);
    case 'meetings':
      return list(sdr.meetings, true);
    case 'reports':
      return list(sdr.reports, false);
    case 'policy':
      return list(sdr.policies, false);
    case 'reporting':
      return () => reporting(world, path, params);
  }
  const scanners = /^connectors\/([^/]+)\/scanners$/.exec(rest);
  if (scanners) {
    return () => {
      const id = idParam(scanners[1] as string, 'connectorId');
      const items = sdr.scanners.get(id);
      return items
        ? sdrList(world, withInjected(world, path, items), params, false)
        : error(world, 404, path, `Connector ${id} not found`);
    };
  }
  const policy = /^policy\/([^/]+)$/.exec(rest);
  if (policy) {
    return () => {
      const id = idParam(policy[1] as string, 'policyId');
      const found = sdr.policies.find((p) => p.id === id);
      return found
        ? sdrList(world, [found], params, false)
        : error(world, 404, path, `Policy ${id} not found`);
    };
  }
  const download = /^report\/download\/([^/]+)$/.exec(rest);
  if (download) {
    return () => {
      const uuid = decodeURIComponent(download[1] as string);
      const report = sdr.reports.find((r) => r.fileUuid === uuid);
      if (!report) return error(world, 404, path, `Report ${uuid} not found`);
      if (report.status !== 'completed')
        return error(world, 400, path, `Report ${uuid} is not downloadable (status ${report.status})`);
      return { kind: 'download', file: world.reportFile(report) };
    };
  }
  return undefined;
}

function idParam(raw: string, name: string): number {
  if (!/^\d+$/.test(raw)) throw new BadRequest(`Path variable '${name}' must be an integer, got '${raw}'`);
  return Number(raw);
}

// ---------------------------------------------------------------------------------------------
// CDR

const CDR_FILTER_PARAMS = [
  'cloudAccount',
  'cloudIdentifier',
  'alertClass',
  'category',
  'affectedResource',
  'remoteResource',
  'resourceType',
  'hash',
  'region',
  'remote.country',
  'remote.city',
];

function findings(world: World, path: string, params: URLSearchParams): Reply {
  const absent = missing(params, ['query', 'startAt', 'endAt']);
  if (absent.length) {
    return error(world, 400, path, `Required request parameter(s) missing: ${absent.join(', ')}`);
  }
  const startAt = isoParam(params, 'startAt');
  const endAt = isoParam(params, 'endAt');
  if (startAt > endAt) throw new BadRequest(`startAt must not be after endAt`);
  const offset = intParam(params, 'offSet', 0, 0, Number.MAX_SAFE_INTEGER);
  const limit = intParam(params, 'limit', 50, 1, 1000);

  const filters: [string, string[]][] = [];
  const severity = params.get('severity');
  if (severity) {
    const values = severity.split(',').map((s) => s.trim());
    for (const v of values)
      if (severityNumber(v) === undefined)
        throw new BadRequest(`Invalid severity '${v}': LOW, MEDIUM, HIGH or CRITICAL`);
    filters.push(['severity', values]);
  }
  const provider = params.get('cloudProvider');
  if (provider) {
    if (!/^(AWS|AZURE|GCP)$/i.test(provider.trim()))
      throw new BadRequest(`Invalid cloudProvider '${provider}': AWS, AZURE or GCP`);
    filters.push(['cloudProvider', [provider.trim()]]);
  }
  for (const name of CDR_FILTER_PARAMS) {
    const v = params.get(name);
    if (v?.trim()) filters.push([name, v.split(',').map((s) => s.trim())]);
  }

  const query: QqlNode = parseQql(params.get('query') ?? '');
  validateTerms(query, world.probe);

  const selected = () => {
    const matching: StoredFinding[] = [];
    // world.findings is sorted newest first (compareFindings): only the window's slice is looked at.
    const from = firstIndex(world.findings, (s) => s.ts <= endAt);
    const to = firstIndex(world.findings, (s) => s.ts < startAt);
    for (let i = from; i < to; i++) {
      const s = world.findings[i] as StoredFinding;
      const f = s.finding;
      if (!filters.every(([field, values]) => values.some((v) => matchCdrField(field, v, f)))) continue;
      if (!evaluateQql(query, f, matchCdrField)) continue;
      matching.push(s);
    }
    return matching;
  };
  return json(
    200,
    cdrPage(servedFindings(world, path, selectionKey(params), selected), offset, limit, world.paging),
  );
}

/**
 * A listing's matching findings, kept while its pages are read: paging through a window of N
 * findings filters them once, not once a page (a million findings at 1,000 a page would be 10^9
 * QQL evaluations). Keyed by every parameter but the cursor and page size.
 */
interface Selection {
  revision: number;
  matching: readonly StoredFinding[];
  /** What the listing serves while the clock is in [from, until): its visible findings, with the injected items. */
  served?: { from: number; until: number; injected: unknown; items: readonly unknown[] };
}

const selections = new WeakMap<World, Map<string, Selection>>();
/** Listings kept per simulator: a run reads one window at a time, tests a few. */
const MAX_SELECTIONS = 8;

const selectionKey = (params: URLSearchParams): string =>
  JSON.stringify([...params].filter(([name]) => name !== 'offSet' && name !== 'limit').sort());

function servedFindings(
  world: World,
  path: string,
  key: string,
  select: () => StoredFinding[],
): readonly unknown[] {
  let cache = selections.get(world);
  if (!cache) {
    cache = new Map();
    selections.set(world, cache);
  }
  let selection = cache.get(key);
  if (!selection || selection.revision !== world.findingsRevision) {
    selection = { revision: world.findingsRevision, matching: select() };
    cache.delete(key);
    cache.set(key, selection);
    for (const oldest of cache.keys()) {
      if (cache.size <= MAX_SELECTIONS) break;
      cache.delete(oldest);
    }
  }
  const now = world.now();
  const injected = world.injected.get(path);
  const served = selection.served;
  if (served && served.injected === injected && served.from <= now && now < served.until) return served.items;
  // Visible now; the listing stays the same until the next of the others becomes visible.
  const visible: CdrFinding[] = [];
  let until = Number.POSITIVE_INFINITY;
  for (const s of selection.matching) {
    if (s.visibleAt <= now) visible.push(s.finding);
    else until = Math.min(until, s.visibleAt);
  }
  selection.served = { from: now, until, injected, items: withInjected(world, path, visible) };
  return selection.served.items;
}

/** The first index from which `after` holds, in a list where it holds for a suffix. */
function firstIndex<T>(items: readonly T[], after: (item: T) => boolean): number {
  let low = 0;
  let high = items.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (after(items[middle] as T)) high = middle;
    else low = middle + 1;
  }
  return low;
}

function validateTerms(node: QqlNode, probe: CdrFinding): void {
  if (node.kind === 'term') matchCdrField(node.field, node.value, probe);
  else {
    validateTerms(node.left, probe);
    validateTerms(node.right, probe);
  }
}

export function compareFindings(a: StoredFinding, b: StoredFinding): number {
  return b.ts - a.ts || (a.finding.uuid < b.finding.uuid ? -1 : a.finding.uuid > b.finding.uuid ? 1 : 0);
}

// ---------------------------------------------------------------------------------------------
// SaaSDR lists

/** Resolves a dotted, case-insensitive path in a record; `connector.type` also finds `connectorType`. */
function lookup(record: unknown, field: string): { found: boolean; value?: unknown } {
  let current: unknown = record;
  for (const part of field.split('.')) {
    if (current === null || typeof current !== 'object') return { found: false };
    const key = Object.keys(current).find((k) => k.toLowerCase() === part.toLowerCase());
    if (key === undefined) {
      if (field.toLowerCase() === 'connector.type') return lookup(record, 'connectorType');
      if (field.toLowerCase() === 'connector.id') return lookup(record, 'id');
      return { found: false };
    }
    current = (current as Record<string, unknown>)[key];
  }
  return { found: true, value: current };
}

function sdrList(world: World, items: readonly unknown[], params: URLSearchParams, sorted: boolean): Reply {
  const page = intParam(params, 'page', 0, 0, Number.MAX_SAFE_INTEGER);
  const size = intParam(params, 'size', 50, 1, 200);
  let selected = items;
  const q = params.get('query')?.trim();
  if (q) {
    // SaaSDR QQL is only partly simulated: unknown fields and unparsable queries are ignored.
    let node: QqlNode | undefined;
    try {
      node = parseQql(q);
    } catch {
      node = undefined;
    }
    if (node) {
      const ast = node;
      selected = items.filter((item) =>
        evaluateQql(ast, item, (field, value, record) => {
          const r = lookup(record, field);
          return !r.found || valueMatches(value, r.value);
        }),
      );
    }
  }
  return json(200, sdrPage(selected, page, size, sorted, world.paging));
}

// ---------------------------------------------------------------------------------------------
// SaaSDR reporting

const CONNECTOR_TYPE_PARAM: Record<string, string> = {
  'google workspace': 'GSUITE',
  gsuite: 'GSUITE',
  office365: 'OFFICE365',
  salesforce: 'SALESFORCE',
  zoom: 'ZOOM',
};

function reporting(world: World, path: string, params: URLSearchParams): Reply {
  // The guide's own curl example spells the parameter `controlEvalutions`.
  const evaluationsRaw =
    params.get('controlEvaluations') ??
    params.get('controlEvalutions') ??
    params.get('controlEvalutaions') ??
    '';
  const absent = missing(params, ['policyName', 'connectorId', 'connectorType']);
  if (!evaluationsRaw.trim()) absent.push('controlEvaluations');
  if (absent.length)
    return error(world, 400, path, `Required request parameter(s) missing: ${absent.join(', ')}`);

  const connectorIdRaw = (params.get('connectorId') ?? '').trim();
  if (!/^\d+$/.test(connectorIdRaw))
    throw new BadRequest(`Parameter 'connectorId' must be an integer, got '${connectorIdRaw}'`);
  const connectorId = Number(connectorIdRaw);
  const typeRaw = (params.get('connectorType') ?? '').trim();
  const connectorType = CONNECTOR_TYPE_PARAM[typeRaw.toLowerCase()];
  if (!connectorType) {
    throw new BadRequest(
      `Invalid connectorType '${typeRaw}': Google Workspace, OFFICE365, SALESFORCE or ZOOM`,
    );
  }
  const wanted: EvaluationResult[] = [];
  for (const raw of evaluationsRaw.split(',')) {
    const v = EVALUATION_RESULTS.find((r) => r.toLowerCase() === raw.trim().toLowerCase());
    if (!v) throw new BadRequest(`Invalid controlEvaluations value '${raw.trim()}': Pass, Fail or Error`);
    if (!wanted.includes(v)) wanted.push(v);
  }
  const pageNumber = intParam(params, 'pageNumber', 1, 1, Number.MAX_SAFE_INTEGER);

  const connector = world.sdr.connectors.find((c) => c.id === connectorId);
  if (!connector) return error(world, 404, path, `Connector ${connectorId} not found`);
  if (connector.connectorType !== connectorType) {
    throw new BadRequest(`Connector ${connectorId} is of type ${connector.connectorType}, not ${typeRaw}`);
  }
  const policyName = (params.get('policyName') ?? '').trim();
  const policy = POLICIES.find((p) => p.name.toLowerCase() === policyName.toLowerCase());
  if (!policy) return error(world, 404, path, `Policy '${policyName}' not found`);
  if (!world.posture.policiesFor(connectorId).includes(policy)) {
    return error(world, 404, path, `Policy '${policy.name}' is not applied to connector ${connectorId}`);
  }
  const { paging } = world;
  const body = world.posture.reporting(
    policy,
    connector,
    wanted,
    servedCursor(pageNumber, paging, 1),
    world.reportingPageSize,
    paging.reportingTotalBatch,
  );
  if (emptied(pageNumber, paging)) body.controlDetailsSummaryDto = [];
  return json(
    200,
    paging.metadataAsStrings ? shaped(body, { metadataAsStrings: true }, ['totalBatch']) : body,
  );
}
