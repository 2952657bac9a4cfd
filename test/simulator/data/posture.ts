import { deriveSeed, Rng } from '../prng';
import { CONTROLS, type ControlDef, POLICIES, type PolicyDef } from './controls';
import { type ConnectorDef, type SdrConnector, type SdrDataset, type SdrReport, sdrDate } from './sdr';

export type EvaluationResult = 'Pass' | 'Fail' | 'Error';
export const EVALUATION_RESULTS: readonly EvaluationResult[] = ['Error', 'Pass', 'Fail'];

export interface EvidenceDetail {
  evidenceKey: string;
  /** Strings, including the literal string "null", as in the sample. */
  evidenceSuccess: string;
  evidenceFail: string;
}

export interface ControlEvaluationSummary {
  resourceId: string;
  resourceEvaluationResult: EvaluationResult;
  evidenceDetails: EvidenceDetail[];
}

export interface ControlDetailsSummary {
  cid: string;
  controlName: string;
  criticality: string;
  controlEvalutaionStatus: EvaluationResult;
  isRemediable: string;
  lastEvaluatedDate: string;
  firstScannedDate: string;
  controlEvaluationSummaryDto: ControlEvaluationSummary[];
}

/** Body of GET /sdr/api/v1/reporting, misspellings of the API kept. */
export interface ReportingResponse {
  policyName: string;
  subscriptionId: string;
  connectorId: number;
  connectorType: string;
  connectorName: string;
  controlEvalutaions: string;
  controlSummaryDto: { totalNoofControls: number; passControls: number; failControls: number };
  controlDetailsSummaryDto: ControlDetailsSummary[];
  /** Pages of the listing (pageNumber runs 1..totalBatch), when the simulator is asked to send it. */
  totalBatch?: number;
}

const OFFICE_SITES = [
  // Path characters on purpose: collectors must not use resource ids as raw S3 key parts.
  'https://qualyssscmsdev.sharepoint.com/sites/Finance/../HR',
  'https://qualyssscmsdev.sharepoint.com/sites/Engineering',
];

/** Resources a control of this connector evaluates, chosen by what the control is about. */
function resourcesFor(d: ConnectorDef, control: ControlDef, rng: Rng): string[] {
  const n = control.name;
  switch (d.type) {
    case 'OFFICE365':
      if (/DKIM|SPF|DMARC|Exchange Domains|domains/i.test(n))
        return rng.sample(
          ['QualysSSCMSDev.mail.onmicrosoft.com', 'QualysSSCMSDev.com', 'QualysSSCMSDev.onmicrosoft.com'],
          rng.int(1, 3),
        );
      if (/SharePoint|OneDrive|sharing/i.test(n)) return OFFICE_SITES;
      return [d.subscriptionId];
    case 'GSUITE':
      if (/DKIM|SPF|DMARC/i.test(n))
        return rng.sample(['qualyssscgsdev.com', 'qualyssscgsdev.net'], rng.int(1, 2));
      if (/Drive|Calendar|chat|Groups|share/i.test(n))
        return rng.sample(['/', '/Engineering', '/Sales/EMEA'], rng.int(1, 3));
      return [d.subscriptionId];
    case 'SALESFORCE':
      if (/profiles|permission/i.test(n))
        return rng.sample(['System Administrator', 'Standard User', 'Integration User'], rng.int(1, 3));
      return [d.subscriptionId];
    default:
      if (/recording|meeting|chat/i.test(n))
        return [d.subscriptionId, ...rng.sample(['Engineering', 'Sales'], rng.int(0, 2))];
      return [d.subscriptionId];
  }
}

const evidenceKey = (name: string): string => {
  const s = name.replace(/^Ensure (that )?/i, '');
  return s.charAt(0).toUpperCase() + s.slice(1);
};

/** Evidence strings depend only on (cid, result) so that setControlResult stays consistent. */
function evidence(control: ControlDef, result: EvaluationResult): EvidenceDetail {
  const key = evidenceKey(control.name);
  const listStyle = Number(control.cid) % 4 === 1;
  if (result === 'Pass') {
    const success = listStyle
      ? JSON.stringify([
          { Id: 'Default', Name: 'Default', Enable: true },
          { Id: 'Strict Preset', Name: 'Strict Preset', Enable: true },
        ])
      : 'true';
    return { evidenceKey: key, evidenceSuccess: success, evidenceFail: 'null' };
  }
  if (result === 'Fail')
    return { evidenceKey: key, evidenceSuccess: 'null', evidenceFail: listStyle ? '[]' : 'false' };
  return { evidenceKey: key, evidenceSuccess: 'null', evidenceFail: 'null' };
}

interface ControlState {
  lastEvaluated: number;
  resources: Map<string, EvaluationResult>;
}

export function controlStatus(results: Iterable<EvaluationResult>): EvaluationResult {
  const all = [...results];
  if (all.includes('Fail')) return 'Fail';
  if (all.includes('Error')) return 'Error';
  return 'Pass';
}

export class Posture {
  private readonly states = new Map<string, ControlState>();

  constructor(
    seed: number,
    anchor: number,
    private readonly dataset: SdrDataset,
  ) {
    const rng = Rng.for(seed, 'sdr-posture');
    for (const d of dataset.connectorDefs) {
      if (!d.enabled) continue;
      for (const control of CONTROLS.values()) {
        if (control.connectorType !== d.type) continue;
        const resources = new Map<string, EvaluationResult>();
        for (const r of resourcesFor(d, control, rng)) {
          resources.set(
            r,
            rng.weighted([
              ['Pass', 55],
              ['Fail', 38],
              ['Error', 7],
            ] as const),
          );
        }
        this.states.set(`${d.id}|${control.cid}`, {
          lastEvaluated: anchor - rng.int(1, 30) * 3_600_000 - rng.int(0, 3599) * 1000,
          resources,
        });
      }
    }
  }

  /** Policies that the connector is evaluated against. */
  policiesFor(connectorId: number): PolicyDef[] {
    const d = this.dataset.connectorDefs.find((c) => c.id === connectorId);
    if (!d?.enabled) return [];
    return POLICIES.filter((p) => p.connectorType === d.type);
  }

  resultsOf(connectorId: number, cid: string): ReadonlyMap<string, EvaluationResult> | undefined {
    return this.states.get(`${connectorId}|${cid}`)?.resources;
  }

  setControlResult(connectorId: number, cid: string, resourceId: string, result: EvaluationResult): void {
    const state = this.states.get(`${connectorId}|${cid}`);
    if (!state) throw new Error(`control ${cid} is not evaluated for connector ${connectorId}`);
    if (!EVALUATION_RESULTS.includes(result)) throw new Error(`invalid result ${String(result)}`);
    state.resources.set(resourceId, result);
  }

  reporting(
    policy: PolicyDef,
    connector: SdrConnector,
    wanted: readonly EvaluationResult[],
    pageNumber: number,
    pageSize: number,
    withTotalBatch = false,
  ): ReportingResponse {
    const details: ControlDetailsSummary[] = [];
    let pass = 0;
    let fail = 0;
    for (const cid of policy.controls) {
      const control = CONTROLS.get(cid);
      const state = this.states.get(`${connector.id}|${cid}`);
      if (!control || !state) continue;
      const status = controlStatus(state.resources.values());
      if (status === 'Pass') pass++;
      if (status === 'Fail') fail++;
      if (!wanted.includes(status)) continue;
      details.push({
        cid,
        controlName: control.name,
        criticality: control.criticality,
        controlEvalutaionStatus: status,
        isRemediable: control.isRemediable,
        lastEvaluatedDate: sdrDate(state.lastEvaluated),
        firstScannedDate: connector.firstScannedDate,
        controlEvaluationSummaryDto: [...state.resources].map(([resourceId, result]) => ({
          resourceId,
          resourceEvaluationResult: result,
          evidenceDetails: [evidence(control, result)],
        })),
      });
    }
    const subscription = JSON.parse(connector.accountConfig) as { saasSubscriptionId?: string };
    return {
      policyName: policy.name,
      subscriptionId: subscription.saasSubscriptionId ?? '',
      connectorId: connector.id,
      connectorType: connector.connectorType,
      connectorName: connector.name,
      controlEvalutaions: EVALUATION_RESULTS.filter((r) => wanted.includes(r)).join(','),
      controlSummaryDto: {
        totalNoofControls: policy.controls.length,
        passControls: pass,
        failControls: fail,
      },
      controlDetailsSummaryDto: details.slice((pageNumber - 1) * pageSize, pageNumber * pageSize),
      ...(withTotalBatch ? { totalBatch: Math.ceil(details.length / pageSize) } : {}),
    };
  }
}

// ---------------------------------------------------------------------------------------------
// Report files: a deterministic CSV, generated row by row so that big files never sit in memory.

const CSV_HEADER =
  'Policy Name,Connector Name,Connector Type,Control ID,Control Name,Criticality,Resource ID,Evaluation Result,Evidence Key,Evidence,Last Evaluated Date\n';

const csvField = (v: string): string => (/[",\n]/.test(v) ? `"${v.replaceAll('"', '""')}"` : v);

export class ReportFile {
  readonly byteLength: number;
  private readonly rowCount: number;
  /** Per control: the constant leading columns, and the evidence key column. */
  private readonly prefixes: string[];
  private readonly keys: string[];
  private readonly dates: string[];
  private readonly seed: number;

  constructor(
    private readonly report: SdrReport,
    seed: number,
    targetBytes: number,
  ) {
    this.seed = deriveSeed(seed, report.fileUuid);
    const policy = POLICIES.find((p) => p.id === report.config.policy.key);
    const controls = (policy?.controls ?? []).flatMap((cid) => {
      const c = CONTROLS.get(cid);
      return c ? [c] : [];
    });
    const lead = [
      report.config.policy.value,
      report.config.connectors[0]?.value ?? '',
      report.config.saasApplication.key,
    ];
    this.prefixes = controls.map(
      (c) => `${[...lead, c.cid, c.name, c.criticality].map(csvField).join(',')},`,
    );
    this.keys = controls.map((c) => csvField(evidenceKey(c.name)));
    if (this.prefixes.length === 0) {
      this.prefixes.push(`${lead.map(csvField).join(',')},,,,`);
      this.keys.push('');
    }
    const created = Date.parse(report.createdAt);
    this.dates = Array.from({ length: 720 }, (_, h) => sdrDate(created - h * 3_600_000));
    // First pass only measures, so Content-Length is exact without holding the body.
    const ascii = [...this.prefixes, ...this.keys].every((t) => /^[\x20-\x7e]*$/.test(t));
    let bytes = Buffer.byteLength(CSV_HEADER);
    let rows = 0;
    for (;;) {
      const text = this.row(rows);
      const len = ascii ? text.length : Buffer.byteLength(text);
      if (bytes + len > targetBytes) break;
      bytes += len;
      rows++;
    }
    this.byteLength = bytes;
    this.rowCount = rows;
  }

  get filename(): string {
    const safe = this.report.reportName.replace(/[^A-Za-z0-9._-]+/g, '_');
    return `${safe}_${this.report.fileUuid.slice(0, 8)}.${this.report.fileFormat}`;
  }

  private row(i: number): string {
    const n = this.prefixes.length;
    const c = i % n;
    const round = Math.floor(i / n);
    // Cheap integer hash per row: rows must be reproducible in any order, without per-row state.
    let h = Math.imul(this.seed ^ (i + 1), 0x9e3779b1);
    h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
    const pick = ((h ^ (h >>> 13)) >>> 0) % 100;
    const [status, value] = pick < 55 ? ['Pass', 'true'] : pick < 93 ? ['Fail', 'false'] : ['Error', 'null'];
    return `${this.prefixes[c]}resource-${String(round).padStart(5, '0')},${status},${this.keys[c]},${value},${this.dates[round % 720]}\n`;
  }

  /** Chunks of about `chunkBytes`, in order; the concatenation is exactly byteLength bytes. */
  *chunks(chunkBytes = 64 * 1024): Generator<string> {
    let chunk = CSV_HEADER;
    for (let i = 0; i < this.rowCount; i++) {
      chunk += this.row(i);
      if (chunk.length >= chunkBytes) {
        yield chunk;
        chunk = '';
      }
    }
    if (chunk) yield chunk;
  }
}
