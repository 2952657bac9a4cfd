import { Rng } from '../prng';
import { QqlError, valueMatches } from '../qql';

/** One CDR finding, exactly the fields (and key order) of samples/cdr-findings-page.json. */
export interface CdrFinding {
  customerUuid: string;
  cloudType: CloudType;
  collectorType: string;
  resourceType: string;
  uuid: string;
  resourceId: string;
  threatClass: string;
  threatType: string | null;
  threatCategory: string;
  cspAccount: string;
  cspRegion: string;
  deploymentName: string | null;
  triggeredResource: string | null;
  affectedResource: string;
  /** 1 = LOW, 2 = MEDIUM, 3 = HIGH, 4 = CRITICAL. */
  severity: number;
  eventMessage: string;
  /** e.g. `2025-05-09T20:00:42.000+00:00` */
  timestamp: string;
  triggeredResourceGeoLocation: string | null;
  triggeredResourceCity: string | null;
  triggeredResourceCountry: string | null;
  hash: string | null;
  vpcId: string | null;
  protocol: string | null;
  affectedResourcePort: number | null;
  responseTime: number | null;
  remoteIpDetails: RemoteIpDetails | null;
  networkInformation: string | null;
  correlationId: string | null;
  qlp: string | null;
  pod: string | null;
  podLabels: string | null;
  containerName: string | null;
  processName: string | null;
}

export type CloudType = 'AWS' | 'AZURE' | 'GCP';

export interface RemoteIpDetails {
  geoLocation: string;
  city: string;
  country: string;
  ipAddress: string;
}

export const SEVERITY_NAMES = ['LOW', 'MEDIUM', 'HIGH', 'CRITICAL'] as const;
export type SeverityName = (typeof SEVERITY_NAMES)[number];

/** Late findings (`late.count`) turn visible at least this long after the anchor. */
const LATE_MARGIN_MS = 10 * 60_000;

export const CUSTOMER_UUID = 'e3b1c0d2-5f4a-4c8e-9a71-2d6f0b8c963e';

/** A finding plus when it becomes visible through the API (simulator clock, epoch ms). */
export interface StoredFinding {
  finding: CdrFinding;
  ts: number;
  visibleAt: number;
}

export function formatCdrTimestamp(ms: number): string {
  return new Date(ms).toISOString().replace('Z', '+00:00');
}

// ---------------------------------------------------------------------------------------------
// Inventory: the cloud accounts, their resources and the remote actors findings refer to.

interface Account {
  cloud: CloudType;
  id: string;
  env: string;
  regions: string[];
  users: string[];
  roles: string[];
  buckets: string[];
  instances: string[];
  vpcs: string[];
  clusters: string[];
  trails: string[];
  vaults: string[];
}

interface Actor {
  ip: string;
  country: string;
  city: string;
  geo: string;
  /** Where the triggering resource was located (the sample shows a different, nearby city). */
  triggeredCity: string;
  triggeredGeo: string;
}

const PLACES: readonly (readonly [string, readonly (readonly [string, string])[]])[] = [
  [
    'United States',
    [
      ['San Ramon', '37.7558,-121.9527'],
      ['Oakland', '37.8044,-122.2712'],
      ['Ashburn', '39.0438,-77.4874'],
      ['Dallas', '32.7767,-96.7970'],
    ],
  ],
  [
    'Netherlands',
    [
      ['Amsterdam', '52.3676,4.9041'],
      ['Rotterdam', '51.9244,4.4777'],
    ],
  ],
  [
    'Russia',
    [
      ['Moscow', '55.7558,37.6173'],
      ['Saint Petersburg', '59.9311,30.3609'],
    ],
  ],
  [
    'China',
    [
      ['Shanghai', '31.2304,121.4737'],
      ['Beijing', '39.9042,116.4074'],
    ],
  ],
  [
    'Brazil',
    [
      ['Sao Paulo', '-23.5505,-46.6333'],
      ['Rio de Janeiro', '-22.9068,-43.1729'],
    ],
  ],
  [
    'Germany',
    [
      ['Frankfurt am Main', '50.1109,8.6821'],
      ['Berlin', '52.5200,13.4050'],
    ],
  ],
  [
    'Romania',
    [
      ['Bucharest', '44.4268,26.1025'],
      ['Cluj-Napoca', '46.7712,23.6236'],
    ],
  ],
  ['Singapore', [['Singapore', '1.3521,103.8198']]],
  ['Nigeria', [['Lagos', '6.5244,3.3792']]],
  ['Vietnam', [['Hanoi', '21.0278,105.8342']]],
  [
    'India',
    [
      ['Mumbai', '19.0760,72.8777'],
      ['Bengaluru', '12.9716,77.5946'],
    ],
  ],
];

function publicIp(rng: Rng): string {
  for (;;) {
    const a = rng.int(11, 223);
    const b = rng.int(0, 255);
    const isPrivate = a === 10 || a === 127 || (a === 172 && b >= 16 && b < 32) || (a === 192 && b === 168);
    if (!isPrivate && !(a === 100 && b >= 64 && b < 128))
      return `${a}.${b}.${rng.int(0, 255)}.${rng.int(1, 254)}`;
  }
}

function buildInventory(rng: Rng): { accounts: Account[]; actors: Actor[] } {
  const awsEnvs = ['prod', 'staging', 'dev', 'security'];
  const accounts: Account[] = awsEnvs.map((env) => ({
    cloud: 'AWS',
    id: rng.digits(12),
    env,
    regions:
      env === 'prod' ? ['us-east-1', 'us-west-2', 'eu-west-1'] : [rng.pick(['us-east-1', 'eu-central-1'])],
    users: rng.sample(
      [
        'OktaSSO_Compute',
        'ci-deployer',
        'terraform',
        'backup-svc',
        'j.morgan',
        'a.khan',
        'm.garcia',
        'etl-runner',
      ],
      4,
    ),
    roles: [`${env}-admin`, 'OrganizationAccountAccessRole', `${env}-app-runtime`],
    buckets: [`northwind-${env}-logs`, `northwind-${env}-exports`, `northwind-${env}-datalake-raw`],
    instances: Array.from({ length: 4 }, () => `i-0${rng.hex(16)}`),
    vpcs: [`vpc-0${rng.hex(16)}`, `vpc-0${rng.hex(16)}`],
    clusters: [`${env}-eks-01`],
    trails: [`${env}-org-trail`],
    vaults: [],
  }));
  accounts.push({
    cloud: 'AZURE',
    id: rng.digits(12),
    env: 'corp',
    regions: ['eastus', 'westeurope'],
    users: ['svc-sync@northwind.onmicrosoft.com', 'k.osei@northwind.com', 'l.chen@northwind.com'],
    roles: [],
    buckets: ['nwcorpstorage01', 'nwbackupsweu'],
    instances: ['vm-corp-web-01', 'vm-corp-jump-01', 'vm-build-agent-03'],
    vpcs: ['vnet-corp-eastus'],
    clusters: [],
    trails: [],
    vaults: ['kv-corp-secrets', 'kv-build'],
  });
  accounts.push({
    cloud: 'GCP',
    id: rng.digits(12),
    env: 'analytics',
    regions: ['us-central1', 'europe-west1'],
    users: ['etl@nw-analytics.iam.gserviceaccount.com', 'looker@nw-analytics.iam.gserviceaccount.com'],
    roles: [],
    buckets: ['nw-analytics-staging', 'nw-analytics-exports'],
    instances: ['bq-loader-1', 'jupyter-gpu-2'],
    vpcs: ['default'],
    clusters: [],
    trails: [],
    vaults: [],
  });

  const actors: Actor[] = Array.from({ length: 24 }, () => {
    const [country, places] = rng.pick(PLACES);
    const [city, geo] = rng.pick(places);
    const [triggeredCity, triggeredGeo] = rng.pick(places);
    return { ip: publicIp(rng), country, city, geo, triggeredCity, triggeredGeo };
  });
  return { accounts, actors };
}

// ---------------------------------------------------------------------------------------------
// Scenarios: plausible combinations of resource type, threat class/category and message.

interface Ctx {
  rng: Rng;
  account: Account;
  actor: Actor;
  resource: string;
}

interface Scenario {
  cloud: CloudType;
  resourceType: string;
  threatClass: string;
  threatCategory: string;
  severities: number[];
  kind: 'api' | 'network' | 'runtime';
  resource: (a: Account, rng: Rng) => string;
  message: (c: Ctx) => string;
  port?: number[];
  protocol?: string;
}

const RECON_APIS = [
  'DescribeInstances',
  'DescribeAutoScalingGroups',
  'ListBuckets',
  'GetAccountAuthorizationDetails',
  'DescribeSecurityGroups',
  'ListUsers',
  'DescribeDBInstances',
  'ListAccessKeys',
];
const MINING_DOMAINS = [
  'xmr.pool.minergate.com',
  'pool.supportxmr.com',
  'eth.2miners.com',
  'gulf.moneroocean.stream',
];

const SCENARIOS: Scenario[] = [
  {
    cloud: 'AWS',
    resourceType: 'IAM_USER',
    threatClass: 'api_activity',
    threatCategory: 'Recon_MaliciousIPCaller.Custom',
    severities: [2, 3],
    kind: 'api',
    resource: (a, r) => r.pick(a.users),
    message: (c) =>
      `The reconnaissance API ${c.rng.pick(RECON_APIS)} was invoked from an IP address on a custom threat list.`,
  },
  {
    cloud: 'AWS',
    resourceType: 'IAM_USER',
    threatClass: 'api_activity',
    threatCategory: 'Recon_TorIPCaller',
    severities: [1, 2],
    kind: 'api',
    resource: (a, r) => r.pick(a.users),
    message: (c) =>
      `The reconnaissance API ${c.rng.pick(RECON_APIS)} was invoked from a Tor exit node IP address.`,
  },
  {
    cloud: 'AWS',
    resourceType: 'S3_BUCKET',
    threatClass: 'api_activity',
    threatCategory: 'Discovery_S3BucketEnumeration.Unusual',
    severities: [1, 2],
    kind: 'api',
    resource: (a, r) => r.pick(a.buckets),
    message: (c) =>
      `An IAM entity invoked the S3 API ListObjectsV2 on bucket ${c.resource} in an unusual way.`,
  },
  {
    cloud: 'AWS',
    resourceType: 'S3_BUCKET',
    threatClass: 'api_activity',
    threatCategory: 'Exfiltration_S3ObjectRead.Unusual',
    severities: [3, 4],
    kind: 'api',
    resource: (a, r) => r.pick(a.buckets),
    message: (c) =>
      `An IAM entity invoked GetObject on ${c.rng.int(400, 9000)} objects of bucket ${c.resource} from ${c.actor.ip}, far above its baseline.`,
  },
  {
    cloud: 'AWS',
    resourceType: 'S3_BUCKET',
    threatClass: 'api_activity',
    threatCategory: 'Policy_S3BlockPublicAccessDisabled',
    severities: [1, 2],
    kind: 'api',
    resource: (a, r) => r.pick(a.buckets),
    message: (c) => `Amazon S3 Block Public Access was disabled for bucket ${c.resource}.`,
  },
  {
    cloud: 'AWS',
    resourceType: 'EC2_INSTANCE',
    threatClass: 'network_activity',
    threatCategory: 'UnauthorizedAccess_SSHBruteForce',
    severities: [1, 2],
    kind: 'network',
    port: [22],
    protocol: 'TCP',
    resource: (a, r) => r.pick(a.instances),
    message: (c) =>
      `EC2 instance ${c.resource} is the target of SSH brute force attempts from ${c.actor.ip}.`,
  },
  {
    cloud: 'AWS',
    resourceType: 'EC2_INSTANCE',
    threatClass: 'network_activity',
    threatCategory: 'Recon_PortProbeUnprotectedPort',
    severities: [1, 2],
    kind: 'network',
    port: [3389, 5432, 9200, 6379, 27017],
    protocol: 'TCP',
    resource: (a, r) => r.pick(a.instances),
    message: (c) => `An unprotected port on EC2 instance ${c.resource} is being probed by ${c.actor.ip}.`,
  },
  {
    cloud: 'AWS',
    resourceType: 'EC2_INSTANCE',
    threatClass: 'network_activity',
    threatCategory: 'CryptoCurrency_BitcoinTool.B!DNS',
    severities: [3, 4],
    kind: 'network',
    port: [53],
    protocol: 'UDP',
    resource: (a, r) => r.pick(a.instances),
    message: (c) =>
      `EC2 instance ${c.resource} is querying ${c.rng.pick(MINING_DOMAINS)}, a domain associated with cryptocurrency mining.`,
  },
  {
    cloud: 'AWS',
    resourceType: 'IAM_USER',
    threatClass: 'api_activity',
    threatCategory: 'UnauthorizedAccess_ConsoleLoginSuccess.B',
    severities: [2, 3],
    kind: 'api',
    resource: (a, r) => r.pick(a.users),
    message: (c) => `Multiple worldwide successful console logins were observed for IAM user ${c.resource}.`,
  },
  {
    cloud: 'AWS',
    resourceType: 'IAM_USER',
    threatClass: 'api_activity',
    threatCategory: 'Policy_RootCredentialUsage',
    severities: [1, 2],
    kind: 'api',
    resource: () => 'root',
    message: (c) =>
      `The API ${c.rng.pick(['ListBuckets', 'GetBillingDetails', 'CreateAccessKey'])} was invoked using root credentials.`,
  },
  {
    cloud: 'AWS',
    resourceType: 'CLOUDTRAIL',
    threatClass: 'api_activity',
    threatCategory: 'Stealth_CloudTrailLoggingDisabled',
    severities: [2, 3],
    kind: 'api',
    resource: (a) => a.trails[0] ?? 'org-trail',
    message: (c) => `AWS CloudTrail trail ${c.resource} was disabled by ${c.rng.pick(c.account.users)}.`,
  },
  {
    cloud: 'AWS',
    resourceType: 'IAM_ROLE',
    threatClass: 'api_activity',
    threatCategory: 'PrivilegeEscalation_AnomalousBehavior',
    severities: [3, 4],
    kind: 'api',
    resource: (a, r) => r.pick(a.roles),
    message: (c) =>
      `The API AttachRolePolicy was invoked to attach AdministratorAccess to role ${c.resource} in an anomalous way.`,
  },
  {
    cloud: 'AWS',
    resourceType: 'IAM_ROLE',
    threatClass: 'api_activity',
    threatCategory: 'UnauthorizedAccess_InstanceCredentialExfiltration.OutsideAWS',
    severities: [3, 4],
    kind: 'api',
    resource: (a, r) => r.pick(a.roles),
    message: (c) =>
      `Credentials created exclusively for an EC2 instance through role ${c.resource} are being used from external IP address ${c.actor.ip}.`,
  },
  {
    cloud: 'AWS',
    resourceType: 'EKS_CLUSTER',
    threatClass: 'process_activity',
    threatCategory: 'CryptoCurrency_Runtime.BitcoinTool.B',
    severities: [3, 4],
    kind: 'runtime',
    resource: (a) => a.clusters[0] ?? 'eks-01',
    message: (c) =>
      `A process associated with cryptocurrency mining was started in a container of cluster ${c.resource}.`,
  },
  {
    cloud: 'AZURE',
    resourceType: 'VIRTUAL_MACHINE',
    threatClass: 'network_activity',
    threatCategory: 'UnauthorizedAccess_RDPBruteForce',
    severities: [1, 2],
    kind: 'network',
    port: [3389],
    protocol: 'TCP',
    resource: (a, r) => r.pick(a.instances),
    message: (c) =>
      `Virtual machine ${c.resource} is the target of RDP brute force attempts from ${c.actor.ip}.`,
  },
  {
    cloud: 'AZURE',
    resourceType: 'STORAGE_ACCOUNT',
    threatClass: 'api_activity',
    threatCategory: 'Exfiltration_StorageAnomalousDownload',
    severities: [2, 3, 4],
    kind: 'api',
    resource: (a, r) => r.pick(a.buckets),
    message: (c) =>
      `An unusual amount of data was extracted from storage account ${c.resource} by ${c.actor.ip}.`,
  },
  {
    cloud: 'AZURE',
    resourceType: 'ENTRA_ID_USER',
    threatClass: 'api_activity',
    threatCategory: 'InitialAccess_ImpossibleTravel',
    severities: [2, 3],
    kind: 'api',
    resource: (a, r) => r.pick(a.users),
    message: (c) =>
      `Sign-ins for user ${c.resource} were observed from distant locations within a short time.`,
  },
  {
    cloud: 'AZURE',
    resourceType: 'KEY_VAULT',
    threatClass: 'api_activity',
    threatCategory: 'Recon_KeyVaultEnumeration',
    severities: [1, 2],
    kind: 'api',
    resource: (a, r) => r.pick(a.vaults),
    message: (c) => `Unusual enumeration of secrets in key vault ${c.resource} from ${c.actor.ip}.`,
  },
  {
    cloud: 'AZURE',
    resourceType: 'VIRTUAL_MACHINE',
    threatClass: 'network_activity',
    threatCategory: 'CryptoCurrency_MiningPoolTraffic',
    severities: [3, 4],
    kind: 'network',
    port: [3333, 4444, 14444],
    protocol: 'TCP',
    resource: (a, r) => r.pick(a.instances),
    message: (c) =>
      `Virtual machine ${c.resource} communicated with known mining pool ${c.rng.pick(MINING_DOMAINS)}.`,
  },
  {
    cloud: 'GCP',
    resourceType: 'COMPUTE_INSTANCE',
    threatClass: 'network_activity',
    threatCategory: 'CryptoCurrency_MiningPoolTraffic',
    severities: [3, 4],
    kind: 'network',
    port: [3333, 4444],
    protocol: 'TCP',
    resource: (a, r) => r.pick(a.instances),
    message: (c) =>
      `Compute instance ${c.resource} connected to known mining pool ${c.rng.pick(MINING_DOMAINS)}.`,
  },
  {
    cloud: 'GCP',
    resourceType: 'GCS_BUCKET',
    threatClass: 'api_activity',
    threatCategory: 'Discovery_BucketEnumeration.Unusual',
    severities: [1, 2],
    kind: 'api',
    resource: (a, r) => r.pick(a.buckets),
    message: (c) => `Objects of bucket ${c.resource} were listed by an unusual principal from ${c.actor.ip}.`,
  },
  {
    cloud: 'GCP',
    resourceType: 'SERVICE_ACCOUNT',
    threatClass: 'api_activity',
    threatCategory: 'Recon_MaliciousIPCaller',
    severities: [2, 3],
    kind: 'api',
    resource: (a, r) => r.pick(a.users),
    message: (c) =>
      `Service account ${c.resource} invoked ${c.rng.pick(['compute.instances.list', 'storage.buckets.list', 'iam.serviceAccountKeys.create'])} from an IP address on a threat list.`,
  },
  {
    cloud: 'GCP',
    resourceType: 'COMPUTE_INSTANCE',
    threatClass: 'network_activity',
    threatCategory: 'UnauthorizedAccess_SSHBruteForce',
    severities: [1, 2],
    kind: 'network',
    port: [22],
    protocol: 'TCP',
    resource: (a, r) => r.pick(a.instances),
    message: (c) =>
      `Compute instance ${c.resource} is the target of SSH brute force attempts from ${c.actor.ip}.`,
  },
];

// ---------------------------------------------------------------------------------------------

export class CdrFactory {
  private readonly accounts: Account[];
  private readonly actors: Actor[];

  constructor(private readonly seed: number) {
    const inv = buildInventory(Rng.for(seed, 'cdr-inventory'));
    this.accounts = inv.accounts;
    this.actors = inv.actors;
  }

  /** Account ids, for tests that filter on them. */
  accountIds(cloud?: CloudType): string[] {
    return this.accounts.filter((a) => !cloud || a.cloud === cloud).map((a) => a.id);
  }

  /** A full random finding at `ts`; `like` makes a burst sibling (same actor/resource). */
  make(rng: Rng, ts: number, like?: Partial<CdrFinding>): CdrFinding {
    const cloud: CloudType =
      like?.cloudType ??
      rng.weighted<CloudType>([
        ['AWS', 75],
        ['AZURE', 15],
        ['GCP', 10],
      ]);
    const severity =
      like?.severity ??
      rng.weighted([
        [1, 45],
        [2, 30],
        [3, 20],
        [4, 6],
      ] as const);
    const ofCloud = SCENARIOS.filter((s) => s.cloud === cloud);
    const sameKind = ofCloud.filter((s) => s.threatCategory === like?.threatCategory);
    const bySeverity = ofCloud.filter((s) => s.severities.includes(severity));
    const scenario = rng.pick(sameKind.length ? sameKind : bySeverity.length ? bySeverity : ofCloud);
    const account =
      this.accounts.find((a) => a.id === like?.cspAccount) ??
      rng.pick(this.accounts.filter((a) => a.cloud === cloud));
    const actor = this.actors.find((a) => a.ip === like?.remoteIpDetails?.ipAddress) ?? rng.pick(this.actors);
    const resource = like?.resourceId ?? scenario.resource(account, rng);
    const finalSeverity =
      like?.severity ?? (scenario.severities.includes(severity) ? severity : rng.pick(scenario.severities));
    const ctx: Ctx = { rng, account, actor, resource };
    const runtime = scenario.kind === 'runtime';
    const network = scenario.kind === 'network';
    const podName = runtime
      ? `${rng.pick(['payments-api', 'web-frontend', 'batch-worker'])}-${rng.hex(10)}-${rng.alnum(5).toLowerCase()}`
      : null;

    return {
      customerUuid: CUSTOMER_UUID,
      cloudType: cloud,
      collectorType: runtime ? 'runtimeSensor' : 'cspSignal',
      resourceType: scenario.resourceType,
      uuid: rng.uuid4(),
      resourceId: resource,
      threatClass: scenario.threatClass,
      threatType: runtime ? 'Process' : null,
      threatCategory: scenario.threatCategory,
      cspAccount: account.id,
      cspRegion: like?.cspRegion ?? rng.pick(account.regions),
      deploymentName: runtime ? (podName?.split('-').slice(0, 2).join('-') ?? null) : null,
      triggeredResource: actor.ip,
      affectedResource: resource,
      severity: finalSeverity,
      eventMessage: scenario.message(ctx),
      timestamp: formatCdrTimestamp(ts),
      triggeredResourceGeoLocation: actor.triggeredGeo,
      triggeredResourceCity: actor.triggeredCity,
      triggeredResourceCountry: actor.country,
      hash: runtime ? rng.hex(64) : null,
      vpcId: network && account.cloud === 'AWS' ? rng.pick(account.vpcs) : null,
      protocol: network ? (scenario.protocol ?? 'TCP') : null,
      affectedResourcePort: network ? rng.pick(scenario.port ?? [443]) : null,
      responseTime: null,
      remoteIpDetails: {
        geoLocation: actor.geo,
        city: actor.city,
        country: actor.country,
        ipAddress: actor.ip,
      },
      networkInformation: null,
      correlationId: null,
      qlp: null,
      pod: podName,
      podLabels: runtime ? `app=${podName?.split('-').slice(0, 2).join('-')},tier=backend` : null,
      containerName: runtime ? rng.pick(['app', 'sidecar', 'worker']) : null,
      processName: runtime ? rng.pick(['xmrig', 'kdevtmpfsi', 'minerd']) : null,
    };
  }

  /**
   * The default dataset: findingsPerHour spread with jitter over [anchor - historyHours, anchor] and,
   * with `futureHours`, on over (anchor, anchor + futureHours] (each visible once the clock reaches
   * it); a `lateFraction` of them reach the API a uniform delay of up to `lateMaxMinutes` after
   * their timestamp; plus `late.count` findings in the last `late.delayMinutes` that all arrive that late.
   */
  generate(anchor: number, options: CdrDataOptions): StoredFinding[] {
    const { historyHours, futureHours, findingsPerHour, late } = options;
    const hour = 3_600_000;
    const out = this.spread(
      Rng.for(this.seed, `cdr-findings:${anchor}`),
      anchor - historyHours * hour,
      anchor,
      historyHours * findingsPerHour,
    );
    if (futureHours > 0) {
      // A stream of its own, so the history stays the same whatever the future holds.
      const future = this.spread(
        Rng.for(this.seed, `cdr-future:${anchor}`),
        anchor,
        anchor + futureHours * hour,
        futureHours * findingsPerHour,
      );
      out.push(...future.filter((stored) => stored.ts > anchor));
    }
    if (options.lateFraction > 0) {
      const lateness = Rng.for(this.seed, `cdr-lateness:${anchor}`);
      const maxDelaySec = Math.max(1, Math.round(options.lateMaxMinutes * 60));
      for (const stored of out) {
        if (lateness.chance(options.lateFraction))
          stored.visibleAt = stored.ts + lateness.int(1, maxDelaySec) * 1000;
      }
    }
    const lateRng = Rng.for(this.seed, `cdr-late:${anchor}`);
    const delayMs = late.delayMinutes * 60_000;
    const historyMs = historyHours * hour;
    // None turns visible in the first LATE_MARGIN_MS of the clock: a test lasting seconds (the clock
    // starts up to a minute after an anchor it floors) never sees one appear mid-run by chance.
    const span = Math.min(historyMs, Math.max(0, delayMs - LATE_MARGIN_MS));
    for (let i = 0; i < late.count; i++) {
      const ts = Math.floor((anchor - lateRng.next() * span) / 1000) * 1000;
      out.push({ finding: this.make(lateRng, ts), ts, visibleAt: ts + delayMs });
    }
    return out;
  }

  /** `count` findings spread with jitter over [from, to], about 15 % in bursts sharing a timestamp. */
  private spread(rng: Rng, from: number, to: number, count: number): StoredFinding[] {
    const total = Math.max(0, Math.round(count));
    const slot = total > 0 ? (to - from) / total : 0;
    const out: StoredFinding[] = [];
    let previous: CdrFinding | undefined;
    let previousTs = 0;
    for (let i = 0; i < total; i++) {
      // Bursts: several findings of the same event share a timestamp, like the two in the sample.
      const burst = previous !== undefined && rng.chance(0.15);
      const ts = burst
        ? previousTs
        : Math.min(to, Math.floor((from + (i + rng.next()) * slot) / 1000) * 1000);
      const finding = this.make(rng, ts, burst ? previous : undefined);
      if (burst && previous) {
        previous.correlationId ??= rng.uuid4();
        finding.correlationId = previous.correlationId;
      }
      out.push({ finding, ts, visibleAt: ts });
      previous = finding;
      previousTs = ts;
    }
    return out;
  }
}

/** What {@link CdrFactory.generate} spreads over time; SimulatorOptions.cdr with its defaults applied. */
export interface CdrDataOptions {
  historyHours: number;
  futureHours: number;
  findingsPerHour: number;
  lateFraction: number;
  lateMaxMinutes: number;
  late: { count: number; delayMinutes: number };
}

// ---------------------------------------------------------------------------------------------
// Filtering: QQL terms and query-string filters share one field matcher.

const normalize = (s: string): string =>
  s
    .trim()
    .toLowerCase()
    .replace(/[\s-]+/g, '_');

export function severityNumber(value: string): number | undefined {
  const byName = SEVERITY_NAMES.indexOf(value.trim().toUpperCase() as SeverityName);
  if (byName >= 0) return byName + 1;
  const n = Number(value);
  return Number.isInteger(n) && n >= 1 && n <= 4 ? n : undefined;
}

export function matchCdrField(rawField: string, value: string, f: CdrFinding): boolean {
  const field = rawField.replace(/^tc\.findings\./i, '').toLowerCase();
  switch (field) {
    case 'cloudprovider':
    case 'cloudtype':
      return valueMatches(value, f.cloudType);
    case 'severity': {
      const n = severityNumber(value);
      if (n === undefined) throw new QqlError(`invalid severity '${value}' (LOW, MEDIUM, HIGH, CRITICAL)`);
      return f.severity === n;
    }
    case 'cspaccount':
    case 'cloudaccount':
    case 'cloudidentifier':
    case 'account':
      return valueMatches(value, f.cspAccount);
    case 'resourcetype':
      // The API documents `BUCKET` as an example value: match a whole `_`-separated part too.
      return (
        valueMatches(value, f.resourceType) ||
        f.resourceType.toLowerCase().split('_').includes(value.toLowerCase())
      );
    case 'region':
    case 'cspregion':
      return valueMatches(value, f.cspRegion);
    case 'affectedresource':
      return valueMatches(value, f.affectedResource) || valueMatches(value, f.resourceId);
    case 'resourceid':
      return valueMatches(value, f.resourceId);
    case 'category':
    case 'threatcategory':
      return valueMatches(value, f.threatCategory) || valueMatches(value, f.threatCategory.split('_')[0]);
    case 'alertclass':
    case 'threatclass':
      return normalize(value) === normalize(f.threatClass) || valueMatches(value, f.threatClass);
    case 'remoteresource':
    case 'remoteip':
      return valueMatches(value, f.remoteIpDetails?.ipAddress) || valueMatches(value, f.triggeredResource);
    case 'remote.country':
      return valueMatches(value, f.remoteIpDetails?.country);
    case 'remote.city':
      return valueMatches(value, f.remoteIpDetails?.city);
    case 'hash':
      return valueMatches(value, f.hash);
    case 'uuid':
      return valueMatches(value, f.uuid);
    case 'collectortype':
      return valueMatches(value, f.collectorType);
    case 'vpcid':
      return valueMatches(value, f.vpcId);
    default:
      throw new QqlError(`unsupported QQL field '${rawField}'`);
  }
}
