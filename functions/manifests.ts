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

export { DEFAULT_SUBSCRIPTION } from './core/subscription';
/** The Security Lake writer's facts for the stack: not a collector (no Qualys client, no secret). */
export {
  SECURITY_LAKE_CLASS_NAMES,
  SECURITY_LAKE_CLASSES,
  SECURITY_LAKE_ENV,
  SECURITY_LAKE_FUNCTION,
  type SecurityLakeClass,
  type SecurityLakeSource,
  type SecurityLakeTarget,
  securityLakeGrants,
} from './security-lake/manifest';
