import { type CuratedDataset, type FunctionName, PREFIX, QUALYS_STATE_PREFIX } from './names';

/**
 * What a collector tells the rest of qualys-lake about itself: its name, the S3 prefixes it reads
 * and writes, the curated datasets it produces and whether it publishes alerts. The CDK stack
 * grants exactly these prefixes and builds the Glue tables from these datasets; the collector's
 * keys are built from the same prefixes, so the two never drift apart.
 */
export interface CollectorManifest {
  readonly name: FunctionName;
  readonly datasets: readonly CuratedDataset[];
  readonly publishesAlerts: boolean;
  /** Where its keys start: `raw/<name>/`, `state/<name>/`, and `reports/<name>/` for downloaded files. */
  readonly prefixes: {
    readonly raw: string;
    readonly state: string;
    readonly files?: string;
    /** `state/<name>/journal/`: per-page state written once and merged later (cdr-findings). */
    readonly journal?: string;
  };
  /** Prefixes its role may read, each ending in `/`. */
  readonly reads: readonly string[];
  /** Prefixes its role may write, each ending in `/`. */
  readonly writes: readonly string[];
  /** Prefixes its role may delete objects under (its journal, once merged), each ending in `/`. */
  readonly deletes: readonly string[];
}

/** The prefix of one curated dataset: `curated/<dataset>/`. */
export const curatedPrefix = (dataset: CuratedDataset): string => `${PREFIX.curated}${dataset}/`;

/**
 * The standard manifest: a collector writes its raw pages, its curated datasets and its state, and
 * reads its state back; with `files`, it also reads and writes `reports/<name>/`. Every collector
 * also reads and writes `state/qualys/`, the call-budget ledger all of them share.
 */
export function defineCollector(options: {
  name: FunctionName;
  datasets: readonly CuratedDataset[];
  publishesAlerts: boolean;
  files?: boolean;
  /** Keeps a journal of per-page state under `state/<name>/journal/`, deleted once merged. */
  journal?: boolean;
}): CollectorManifest {
  const { name, datasets, publishesAlerts } = options;
  const raw = `${PREFIX.raw}${name}/`;
  const state = `${PREFIX.state}${name}/`;
  const files = options.files ? `${PREFIX.reports}${name}/` : undefined;
  const journal = options.journal ? `${state}journal/` : undefined;
  return {
    name,
    datasets,
    publishesAlerts,
    prefixes: { raw, state, ...(files && { files }), ...(journal && { journal }) },
    reads: [state, QUALYS_STATE_PREFIX, ...(files ? [files] : [])],
    writes: [raw, ...datasets.map(curatedPrefix), state, QUALYS_STATE_PREFIX, ...(files ? [files] : [])],
    deletes: journal ? [journal] : [],
  };
}

/** Where a collector archives response bodies it could not use: `raw/<name>/unreadable/`. */
export const unreadablePrefix = (manifest: CollectorManifest): string =>
  `${manifest.prefixes.raw}unreadable/`;
