import type * as v from 'valibot';
import { pageNumberPaging } from '../core/paging';
import { gzip } from '../core/records';
import type { Run } from '../core/run';
import type { CallOptions, QualysClient } from '../qualys/client';
import type { Page } from '../qualys/schemas';
import { CONNECTOR_TYPES, ConnectorSchema, listSdrPage, PolicySchema, SDR_PATHS } from '../qualys/sdr';
import { screen } from '../qualys/validation';
import type { SdrPostureSettings } from './config';
import { sdrPostureKeys } from './keys';
import type {
  ConnectorReport,
  ListedConnector,
  ListedPolicy,
  Listing,
  PairProgress,
  Poll,
  PollRef,
  SdrPostureSummary,
} from './model';

/** Whether a connector takes part: enabled, not deleted, of a type /reporting knows. */
export function connectorVerdict(connector: ListedConnector): 'poll' | 'disabled' | 'unknownType' {
  if (!(connector.isEnabled === 1 || connector.isEnabled === true) || connector.deleted === true)
    return 'disabled';
  return connector.connectorType && connector.connectorType in CONNECTOR_TYPES ? 'poll' : 'unknownType';
}

/** A policy applies when it lists the connector, or is of the connector's type. */
export function policyApplies(policy: ListedPolicy, connector: ListedConnector): boolean {
  if (
    policy.connectors?.some(
      (item) => item.id !== null && item.id !== undefined && String(item.id) === String(connector.id),
    )
  )
    return true;
  const type = connector.connectorType;
  if (!type || !policy.connectorType) return false;
  return policy.connectorType === type || CONNECTOR_TYPES[policy.connectorType] === CONNECTOR_TYPES[type];
}

/** The (connector, policy) pairs of a finished listing, and what became of each connector. */
export function pairsOf(listing: Listing): { pairs: PairProgress[]; report: ConnectorReport } {
  const report: ConnectorReport = {
    listed: listing.connectors.length,
    polled: 0,
    disabled: 0,
    unknownType: [],
  };
  const pairs: PairProgress[] = [];
  for (const connector of listing.connectors) {
    const verdict = connectorVerdict(connector);
    if (verdict === 'disabled') {
      report.disabled++;
      continue;
    }
    if (verdict === 'unknownType') {
      report.unknownType.push({ id: String(connector.id), connectorType: connector.connectorType ?? null });
      continue;
    }
    report.polled++;
    for (const policy of listing.policies) {
      if (!policyApplies(policy, connector)) continue;
      pairs.push({
        connectorId: connector.id,
        connectorType: connector.connectorType ?? '',
        connectorName: connector.name ?? null,
        policyId: policy.id,
        policyName: policy.name,
        nextPage: 1,
        status: 'pending',
      });
    }
  }
  return { pairs, report };
}

/** What listing needs from the run. */
export interface ListingContext {
  run: Run<SdrPostureSummary>;
  qualys: Pick<QualysClient, 'getJson'>;
  call: CallOptions;
  settings: Pick<SdrPostureSettings, 'pageSize'>;
  state: { saveCheckpoint(): Promise<void> };
}

type ListSchema = typeof ConnectorSchema | typeof PolicySchema;

/** Archives one page of a SaaSDR list and returns the items `schema` accepts (the others are set aside). */
async function listPage<S extends ListSchema>(
  { run }: ListingContext,
  poll: PollRef,
  list: 'connectors' | 'policies',
  schema: S,
  pageNumber: number,
  page: Page & { raw: Uint8Array },
): Promise<v.InferOutput<S>[]> {
  const path = SDR_PATHS[list];
  await run.store.put(sdrPostureKeys.listRaw(poll, list, pageNumber), gzip(page.raw), {
    contentType: 'application/json',
    contentEncoding: 'gzip',
    metadata: { 'qualys-endpoint': path, page: String(pageNumber) },
  });
  const { valid, rejected } = screen(page.content, schema);
  await run.setAside(
    sdrPostureKeys.rejectedListed(poll, list, pageNumber),
    { endpoint: `GET ${path}`, page: pageNumber },
    rejected,
    `SaaSDR ${list} without a usable id or name were set aside`,
    { page: pageNumber },
  );
  return valid;
}

/** Ends the listing: the poll's pairs, with the connectors that take no part reported and logged. */
function finishListing({ run }: ListingContext, poll: Poll, listing: Listing): void {
  for (const connector of listing.connectors) {
    if (connectorVerdict(connector) !== 'unknownType') continue;
    run.logger.warn('Skipping a connector of a type /sdr/api/v1/reporting does not know', {
      connectorId: connector.id,
      connectorType: connector.connectorType ?? null,
      knownTypes: Object.keys(CONNECTOR_TYPES),
    });
  }
  const { pairs, report } = pairsOf(listing);
  run.summary.connectors = report;
  run.summary.policies = listing.policies.length;
  run.logger.info('Listed the connector/policy pairs of a posture poll', {
    pairs: pairs.length,
    connectors: report,
  });
  poll.pairs = pairs;
  poll.listing = undefined;
}

/** Lists connectors, then policies, from where the listing stopped; saves after every page. */
export async function continueListing(context: ListingContext, poll: Poll, listing: Listing): Promise<void> {
  const { run, qualys, call, settings } = context;
  for (const list of ['connectors', 'policies'] as const) {
    if (listing.list !== list) continue;
    const fetchPage = async (page: number) => {
      run.spendCall(`listing ${list} page ${page}`);
      const response = await listSdrPage(qualys, list, { page, size: settings.pageSize }, call);
      return { ...response.body, raw: response.raw };
    };
    for await (const { cursor, next, page } of pageNumberPaging({
      endpoint: `GET ${SDR_PATHS[list]}`,
      fetchPage,
      start: listing.nextPage,
      size: settings.pageSize,
    })) {
      if (list === 'connectors') {
        for (const item of await listPage(context, poll, list, ConnectorSchema, cursor, page)) {
          const { id, connectorType, name, isEnabled, deleted } = item;
          listing.connectors.push({ id, connectorType, name, isEnabled, deleted });
        }
      } else {
        for (const item of await listPage(context, poll, list, PolicySchema, cursor, page)) {
          const { id, name, connectorType, connectors } = item;
          listing.policies.push({
            id,
            name,
            connectorType,
            connectors: connectors?.map((c) => ({ id: c.id })),
          });
        }
      }
      if (next !== undefined) {
        listing.nextPage = next;
      } else if (list === 'connectors') {
        listing.list = 'policies';
        listing.nextPage = 0;
      } else {
        finishListing(context, poll, listing);
      }
      await context.state.saveCheckpoint();
    }
  }
}
