/**
 * Qualys API simulator (CDR findings + SaaSDR), the only stand-in for Qualys in tests and local runs.
 * See README.md in this folder for the data it serves.
 */

import { DEFAULT_CREDENTIALS, startSimulatorServer } from './server';
import type { Simulator, SimulatorOptions } from './types';

export type { CdrFinding, CloudType, RemoteIpDetails, SeverityName } from './data/cdr';
export { CUSTOMER_UUID, SEVERITY_NAMES } from './data/cdr';
export type { ControlDef, Criticality, PolicyDef, SdrConnectorType } from './data/controls';
export { CONTROLS, POLICIES } from './data/controls';
export type {
  ControlDetailsSummary,
  ControlEvaluationSummary,
  EvaluationResult,
  EvidenceDetail,
  ReportingResponse,
} from './data/posture';
export type {
  ConnectorRef,
  SdrApplication,
  SdrConnector,
  SdrDataset,
  SdrDocument,
  SdrDocumentPermission,
  SdrGroup,
  SdrGroupMember,
  SdrMeeting,
  SdrMeetingParticipant,
  SdrPolicy,
  SdrRecording,
  SdrReport,
  SdrReportStatus,
  SdrScanner,
  SdrUser,
} from './data/sdr';
export { PATHY_DOCUMENT_SOURCE_ID, SDR_CUSTOMER_ID } from './data/sdr';
export type {
  CdrOptions,
  PagingBehaviour,
  QueuedMisbehaviour,
  RateLimitOptions,
  SdrOptions,
  Simulator,
  SimulatorControl,
  SimulatorData,
  SimulatorOptions,
  SimulatorStats,
} from './types';
export { DEFAULT_CREDENTIALS };

/** Starts a simulator on 127.0.0.1, on a free port. */
export function startSimulator(options: SimulatorOptions = {}): Promise<Simulator> {
  return startSimulatorServer(options, 0);
}
