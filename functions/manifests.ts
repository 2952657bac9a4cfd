import { cdrFindingsManifest } from './cdr-findings/manifest';
import type { CollectorManifest } from './core/manifest';
import type { FunctionName } from './core/names';
import { sdrInventoryManifest } from './sdr-inventory/manifest';
import { sdrPostureManifest } from './sdr-posture/manifest';
import { sdrReportsManifest } from './sdr-reports/manifest';

/**
 * Every collector's manifest, by function name: what the CDK stack grants and catalogs. Loading
 * this loads no runtime code, only the manifests.
 */
export const COLLECTOR_MANIFESTS: Record<FunctionName, CollectorManifest> = {
  'cdr-findings': cdrFindingsManifest,
  'sdr-inventory': sdrInventoryManifest,
  'sdr-posture': sdrPostureManifest,
  'sdr-reports': sdrReportsManifest,
};
