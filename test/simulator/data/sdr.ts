import { Rng, uuid1 } from '../prng';
import { CONTROLS, POLICIES, type SdrConnectorType } from './controls';

// ---------------------------------------------------------------------------------------------
// Record shapes: field names, nesting and key order of the samples in /work/shared/qualys-api/samples.

export interface ConnectorRef {
  id: number;
  type: string;
}

export interface SdrConnector {
  customerId: string;
  connectorType: string;
  id: number;
  name: string;
  description: string | null;
  state: string;
  config: string | null;
  status: string;
  emailId: string;
  isEnabled: number;
  isPolicyEnabled: number | null;
  updatedBy: string;
  createdBy: string;
  /** JSON text, e.g. `{"saasSubscriptionId":"C04kkbpr8"}` */
  accountConfig: string;
  firstScannedDate: string;
  lastScannedDate: string;
  deleted: boolean;
}

export interface SdrScanner {
  scannerType: string;
  status: string;
  firstScannedDate: string;
  lastScannedDate: string;
  parentEntityId: string;
  errorText: string | null;
  scanCount: number;
  customerId: string | null;
  connectorId: number | null;
  nextPageToken: string | null;
  deltaPageToken: string | null;
  scannerId: number;
  scannerDefinitionId: number;
  retryCount: number;
}

export interface SdrUser {
  customerId: string;
  connector: ConnectorRef;
  sourceId: string;
  version: number;
  domain: string;
  email: string;
  firstName: string | null;
  lastName: string | null;
  fullName: string;
  username: string;
  nameAlias: string;
  isSuspended: boolean;
  entityType: string;
  accessType: string;
  role: string | null;
  roles: string[];
}

export interface SdrGroupMember {
  groupId: string;
  role: string;
  entityType: string;
  accessType: string;
  domain: string;
  userId: string;
  email: string;
  fullName: string;
}

export interface SdrGroup {
  customerId: string;
  connector: ConnectorRef;
  sourceId: string;
  version: number;
  domain: string | null;
  email: string | null;
  name: string;
  nameAlias: string;
  createdDate: string;
  lastUpdatedDate: string;
  aliases: string | null;
  entityType: string;
  accessType: string;
  directMembersCount: number;
  members: SdrGroupMember[];
}

export interface SdrDocumentPermission {
  sourceId: string;
  documentId: string;
  linkedEntityType: string;
  role: string;
  accessType: string;
  domain: string;
  email: string;
}

export interface SdrDocument {
  customerId: string;
  connector: ConnectorRef;
  sourceId: string;
  version: number;
  entityType: string;
  name: string;
  nameAlias: string;
  type: string;
  size: number | null;
  owner: { userId: string; email: string; fullName: string } | null;
  lastUpdatedDate: string;
  createdDate: string;
  accessType: string;
  webContentLink: string | null;
  lastUpdatedBy: string | null;
  /** Comma-separated, null when not shared outside. */
  externalDomains: string | null;
  externalPermissionsCount: number;
  isShared: boolean;
  permissions: SdrDocumentPermission[];
}

export interface SdrApplication {
  customerId: string;
  connector: ConnectorRef;
  sourceId: string;
  version: number;
  name: string;
  nameAlias: string;
  isAnonymous: boolean;
  /** `, `-separated scope list. */
  scopes: string;
  score: number;
  priceModel: string | null;
  billingCycle: string | null;
  isTrusted: boolean;
  userCount: number;
  exposure: string;
  users: { sourceId: string; appId: string; domain: string; email: string }[];
}

export interface SdrMeetingParticipant {
  documentId: string;
  linkedEntityType: string;
  role: string;
  accessType: string;
  domain: string;
  userId: string | null;
  email: string;
  fullName: string;
}

export interface SdrRecording {
  id: string;
  meetingUUID: string;
  startedAt: string;
  endedAt: string;
  fileType: string;
  fileSize: number;
  playUrl: string;
  downloadUrl: string;
  status: string;
  recordingType: string;
}

export interface SdrMeeting {
  customerId: string;
  connector: ConnectorRef;
  sourceId: string;
  version: number;
  meetingId: string;
  hostUser: { userId: string; email: string; fullName: string; department: string | null };
  name: string;
  nameAlias: string;
  entityType: string;
  type: string;
  startedAt: string;
  scheduledDuration: number;
  accessType: string;
  participantsCount: number;
  participants: SdrMeetingParticipant[];
  recordingsCount: number;
  recordingsShareUrl: string | null;
  recordings: SdrRecording[];
  recordingSetting: {
    accessType: string;
    recordingAuthentication: boolean;
    viewerDownload: boolean;
    onDemand: boolean;
    approvalType: number;
  } | null;
}

export type SdrReportStatus = 'completed' | 'inprogress' | 'failed';

export interface SdrReport {
  fileUuid: string;
  reportName: string;
  description: string | null;
  fileFormat: string;
  status: SdrReportStatus;
  templateTitle: string;
  templateType: string;
  templateName: string;
  createdAt: string;
  expiresOn: string;
  config: {
    saasApplication: { key: string; value: string };
    connectors: { key: number; value: string }[];
    policy: { key: number; value: string };
    result: string[];
    template: { key: string; value: string };
  };
  createdBy: string;
}

export interface SdrPolicy {
  id: number;
  connectorType: string;
  name: string;
  description: string;
  version: string;
  type: string;
  scope: string[];
  isSystemCreated: boolean;
  createdDate: string;
  updatedDate: string;
  createdBy: string;
  updatedBy: string;
  controlCount: number;
  controls: string[];
  customerId: string | null;
  connectors: SdrConnector[];
}

// ---------------------------------------------------------------------------------------------

export const SDR_CUSTOMER_ID = '4eaa64f9-771c-745e-810a-37d3f4c38a49';

export interface ConnectorDef {
  id: number;
  type: SdrConnectorType | 'DROPBOX';
  name: string;
  emailId: string;
  subscriptionId: string;
  domain: string;
  enabled: boolean;
}

export const CONNECTOR_DEFS: readonly ConnectorDef[] = [
  {
    id: 2193,
    type: 'GSUITE',
    name: 'Gsuite p01',
    emailId: 'madhavi@qualyssscgsdev.com',
    subscriptionId: 'C04kkbpr8',
    domain: 'qualyssscgsdev.com',
    enabled: true,
  },
  {
    id: 2245,
    type: 'OFFICE365',
    name: 'O365 p01',
    emailId: 'mjoshi@qualyssscmsdev.com',
    subscriptionId: '64837187-a312-4982-92eb-64049df4ad12',
    domain: 'qualyssscmsdev.com',
    enabled: true,
  },
  {
    id: 2192,
    type: 'SALESFORCE',
    name: 'sfdc p01',
    emailId: 'sraj@qualys.com',
    subscriptionId: '00D0n0000001N43',
    domain: 'qualys.com',
    enabled: true,
  },
  {
    id: 2190,
    type: 'ZOOM',
    name: 'Zoom p01',
    emailId: 'mjoshi@qualyssscmsdev.com',
    subscriptionId: 'lZrWr5kTQ3yK9sX2aB7c1A',
    domain: 'qualyssscmsdev.com',
    enabled: true,
  },
  {
    id: 2301,
    type: 'ZOOM',
    name: 'Zoom p02 trial',
    emailId: 'vivek@qualyssscmsdev.com',
    subscriptionId: 'Qm8vT2pLx0aB3cD4eF5gHi',
    domain: 'qualyssscmsdev.com',
    enabled: false,
  },
];

export const UNKNOWN_TYPE_CONNECTOR: ConnectorDef = {
  id: 2400,
  type: 'DROPBOX',
  name: 'Dropbox p01',
  emailId: 'it-admin@qualyssscdbdev.com',
  subscriptionId: 'dbmid:AAC9v0xQw3nE7rT1yU5iO2pLkJhGfDsA',
  domain: 'qualyssscdbdev.com',
  enabled: true,
};

/** The SharePoint document whose sourceId contains `/`, spaces and `..` (collectors must build safe keys). */
export const PATHY_DOCUMENT_SOURCE_ID =
  'https://qualyssscmsdev.sharepoint.com/sites/Finance/Shared Documents/../Board Pack/Q3 forecast.xlsx';

export interface SdrOptionsResolved {
  documents: number;
  users: number;
  groups: number;
  applications: number;
  meetings: number;
  reports: number;
  includeUnknownConnectorType: boolean;
}

export interface SdrDataset {
  connectors: SdrConnector[];
  connectorDefs: ConnectorDef[];
  scanners: Map<number, SdrScanner[]>;
  users: SdrUser[];
  groups: SdrGroup[];
  documents: SdrDocument[];
  applications: SdrApplication[];
  meetings: SdrMeeting[];
  reports: SdrReport[];
  policies: SdrPolicy[];
}

const DAY = 86_400_000;
const HOUR = 3_600_000;

/** `2021-09-27T10:18:49Z` (no milliseconds), as in the SaaSDR samples. */
export const sdrDate = (ms: number): string =>
  new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');

/** Salesforce 18-character id: 15-character id plus its case-encoding checksum. */
export function salesforceId(id15: string): string {
  const map = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ012345';
  let suffix = '';
  for (let chunk = 0; chunk < 3; chunk++) {
    let bits = 0;
    for (let i = 0; i < 5; i++) {
      const ch = id15[chunk * 5 + i] ?? '';
      if (ch >= 'A' && ch <= 'Z') bits |= 1 << i;
    }
    suffix += map[bits];
  }
  return id15 + suffix;
}

const sfRandomId = (rng: Rng, keyPrefix: string): string =>
  salesforceId(`${keyPrefix}0n00000${rng.alnum(5)}`);

const FIRST = [
  'Aarav',
  'Maya',
  'Liam',
  'Sofia',
  'Noah',
  'Priya',
  'Ethan',
  'Chloe',
  'Lucas',
  'Aisha',
  'Mateo',
  'Hannah',
  'Omar',
  'Elena',
  'Ravi',
  'Grace',
  'Diego',
  'Yuki',
  'Samuel',
  'Fatima',
  'Jonas',
  'Nina',
  'Kwame',
  'Isla',
  'Arjun',
  'Léa',
  'Tomas',
  'Mei',
  'Victor',
  'Zara',
];
const LAST = [
  'Patel',
  'Nguyen',
  'Smith',
  'Garcia',
  'Kowalski',
  'Okafor',
  'Chen',
  'Müller',
  'Joshi',
  'Baranwal',
  'Raj',
  'Silva',
  'Novak',
  'Haddad',
  'Kim',
  'Núñez',
  'Larsen',
  'Mensah',
  'Rossi',
  'Tanaka',
  'Ivanova',
  'Brown',
  "O'Neill",
  'Dubois',
];
const DEPARTMENTS = ['SSC', 'Engineering', 'Sales', 'Finance', 'Marketing', 'Legal', 'IT', 'HR'];
const EXTERNAL_DOMAINS = [
  'gmail.com',
  'contoso.com',
  'partner-co.com',
  'acme-consulting.io',
  'outlook.com',
  'fabrikam.net',
];
const TRUSTED_DOMAINS = ['qualys.com'];

const asciiLocal = (s: string): string =>
  s
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/[^A-Za-z0-9]/g, '')
    .toLowerCase();

const connectorRef = (d: ConnectorDef): ConnectorRef => ({ id: d.id, type: d.type });

function pickConnector(
  rng: Rng,
  defs: ConnectorDef[],
  weights: Partial<Record<ConnectorDef['type'], number>>,
): ConnectorDef {
  return rng.weighted(defs.filter((d) => weights[d.type]).map((d) => [d, weights[d.type] ?? 0] as const));
}

// ---------------------------------------------------------------------------------------------

function buildConnector(d: ConnectorDef, anchor: number): SdrConnector {
  return {
    customerId: SDR_CUSTOMER_ID,
    connectorType: d.type,
    id: d.id,
    name: d.name,
    description: d.enabled ? null : 'Trial connector, disabled after evaluation',
    state: 'SUCCESS',
    config: null,
    status: d.enabled ? 'Scan Completed' : 'Disabled',
    emailId: d.emailId,
    isEnabled: d.enabled ? 1 : 0,
    isPolicyEnabled: d.enabled && d.type !== 'DROPBOX' ? 1 : null,
    updatedBy: 'sraj@qualys.com',
    createdBy: 'sraj@qualys.com',
    accountConfig: JSON.stringify({ saasSubscriptionId: d.subscriptionId }),
    firstScannedDate: sdrDate(anchor - 400 * DAY - (d.id % 97) * HOUR),
    lastScannedDate: sdrDate(d.enabled ? anchor - ((d.id % 5) + 1) * HOUR : anchor - 120 * DAY),
    deleted: false,
  };
}

const SCANNER_TYPES: Record<ConnectorDef['type'], string[]> = {
  GSUITE: [
    'ADMINUSER',
    'USER',
    'GROUP',
    'DRIVE',
    'SHAREDDRIVE',
    'APPLICATION',
    'TOKEN',
    'ORGUNIT',
    'DOMAIN',
    'CONFIGURATION',
  ],
  OFFICE365: [
    'ADMINUSER',
    'USER',
    'GROUP',
    'ONEDRIVE',
    'SHAREPOINT',
    'APPLICATION',
    'DOMAIN',
    'MAILBOX',
    'CONFIGURATION',
  ],
  SALESFORCE: [
    'USER',
    'GROUP',
    'CONTENTDOCUMENT',
    'CONNECTEDAPP',
    'PROFILE',
    'PERMISSIONSET',
    'CONFIGURATION',
  ],
  ZOOM: ['USER', 'GROUP', 'MEETING', 'RECORDING', 'CONFIGURATION'],
  DROPBOX: ['USER', 'GROUP', 'FILE', 'CONFIGURATION'],
};

function buildScanners(rng: Rng, d: ConnectorDef, c: SdrConnector): SdrScanner[] {
  const types = SCANNER_TYPES[d.type];
  const base = { GSUITE: 2000, OFFICE365: 3000, SALESFORCE: 4000, ZOOM: 5000, DROPBOX: 6000 }[d.type];
  return types.map((scannerType, i) => {
    const failed = d.enabled && i === types.length - 2 && rng.chance(0.5);
    return {
      scannerType,
      status: !d.enabled ? 'DISABLED' : failed ? 'FAILED' : 'SUCCESS',
      firstScannedDate: c.firstScannedDate,
      lastScannedDate: sdrDate(Date.parse(c.lastScannedDate) + i * 30_000),
      parentEntityId: d.subscriptionId,
      errorText: failed
        ? 'Rate limit exceeded by the SaaS application API (HTTP 429); the scan will be retried'
        : null,
      scanCount: rng.int(1, 400),
      customerId: null,
      connectorId: null,
      nextPageToken: null,
      deltaPageToken: scannerType === 'DRIVE' || scannerType === 'ONEDRIVE' ? rng.base64url(24) : null,
      scannerId: 0,
      scannerDefinitionId: base + i + 1,
      retryCount: failed ? 3 : 0,
    };
  });
}

function buildUser(rng: Rng, d: ConnectorDef, taken: Set<string>): SdrUser {
  const service = rng.chance(0.08);
  const guest = d.type === 'OFFICE365' && !service && rng.chance(0.1);
  const first = service ? null : rng.pick(FIRST);
  const last = service ? null : rng.pick(LAST);
  let local = service
    ? `svc-${rng.pick(['backup', 'sync', 'scanner', 'etl', 'hr-feed', 'mailer'])}`
    : `${asciiLocal(first ?? '')}.${asciiLocal(last ?? '')}`;
  while (taken.has(`${d.id}:${local}`)) local = `${local}${rng.int(1, 9)}`;
  taken.add(`${d.id}:${local}`);
  const externalDomain = rng.pick(EXTERNAL_DOMAINS);
  const domain = guest ? externalDomain : d.domain;
  const email = `${local}@${domain}`;
  const fullName = first && last ? `${first} ${last}` : local;
  const admin = !service && rng.chance(0.08);
  let sourceId: string;
  let username = local;
  let roles: string[] = [];
  switch (d.type) {
    case 'GSUITE':
      sourceId = `1${rng.digits(20)}`;
      username = email;
      roles = admin ? [rng.pick(['Super Admin', 'Groups Admin', 'User Management Admin'])] : [];
      break;
    case 'OFFICE365':
      sourceId = rng.uuid4();
      if (guest) username = `${local}_${domain}#EXT#`;
      roles = admin
        ? [rng.pick(['Global Administrator', 'Exchange Administrator', 'SharePoint Administrator'])]
        : [];
      break;
    case 'SALESFORCE':
      sourceId = sfRandomId(rng, '005');
      username = email;
      roles = admin ? ['System Administrator'] : [];
      break;
    case 'ZOOM':
      sourceId = rng.base64url(22);
      roles = admin ? ['Admin'] : [];
      break;
    case 'DROPBOX':
      sourceId = `dbmid:AA${rng.base64url(34)}`;
      roles = admin ? ['Team admin'] : [];
      break;
  }
  return {
    customerId: SDR_CUSTOMER_ID,
    connector: connectorRef(d),
    sourceId,
    version: rng.int(1, 6),
    domain,
    email,
    firstName: first,
    lastName: last,
    fullName,
    username,
    nameAlias: fullName,
    isSuspended: rng.chance(0.07),
    entityType: guest ? 'GUEST' : service ? 'SERVICE_ACCOUNT' : 'USER',
    accessType: guest ? 'External' : 'Internal',
    role: rng.chance(0.05) ? null : admin ? 'ADMIN' : 'USER',
    roles,
  };
}

const GROUP_NAMES = [
  'eng-team',
  'sales-emea',
  'finance',
  'all-staff',
  'security',
  'marketing',
  'it-helpdesk',
  'board',
  'partners',
  'interns',
  'legal',
  'product',
  'support-tier2',
  'hr-private',
  'design',
];

function buildGroup(rng: Rng, d: ConnectorDef, users: SdrUser[], anchor: number, index: number): SdrGroup {
  const baseName = `${GROUP_NAMES[index % GROUP_NAMES.length]}${index >= GROUP_NAMES.length ? `-${Math.floor(index / GROUP_NAMES.length) + 1}` : ''}`;
  let sourceId: string;
  let domain: string | null = d.domain;
  let email: string | null = `${baseName}@${d.domain}`;
  let entityType = 'GROUP';
  let name = baseName;
  switch (d.type) {
    case 'GSUITE':
      sourceId = `0${rng.chars('0123456789abcdefghijklmnopqrstuvwxyz', 14)}`;
      break;
    case 'OFFICE365':
      sourceId = rng.uuid4();
      entityType = rng.pick(['SECURITY GROUP', 'DISTRIBUTION LIST', 'OFFICE365 GROUP']);
      if (entityType === 'SECURITY GROUP') email = null;
      break;
    case 'SALESFORCE': {
      sourceId = sfRandomId(rng, '0F9');
      domain = 'post.0n-1n43eae.cs67.chatter.sandbox.salesforce.com';
      email = `${sourceId.toLowerCase()}@${domain}`;
      entityType = 'CHATTER GROUP';
      name = `${String(rng.int(1, 12)).padStart(2, '0')}.${String(rng.int(1, 28)).padStart(2, '0')} ${baseName}`;
      break;
    }
    default:
      sourceId = rng.base64url(22);
      domain = null;
      email = null;
  }
  const groupId = d.type === 'SALESFORCE' ? `${sourceId}@${domain}` : (email ?? sourceId);
  const pool = users.filter((u) => u.connector.id === d.id);
  const members: SdrGroupMember[] = rng.sample(pool, rng.int(0, Math.min(8, pool.length))).map((u, i) => ({
    groupId,
    role: i === 0 ? 'ADMIN' : rng.chance(0.1) ? 'OWNER' : 'MEMBER',
    entityType: 'USER',
    accessType: u.accessType,
    domain: u.domain,
    userId: u.sourceId,
    email: u.email,
    fullName: u.fullName,
  }));
  const created = anchor - rng.int(30, 900) * DAY - rng.int(0, 86_399) * 1000;
  return {
    customerId: SDR_CUSTOMER_ID,
    connector: connectorRef(d),
    sourceId,
    version: rng.int(1, 4),
    domain,
    email,
    name,
    nameAlias: name,
    createdDate: sdrDate(created),
    lastUpdatedDate: sdrDate(created + rng.int(0, 25) * DAY + rng.int(0, 86_399) * 1000),
    aliases: rng.weighted([
      ['Private', 3],
      ['Public', 2],
      [null, 1],
    ] as const),
    entityType,
    accessType: members.some((m) => m.accessType === 'External') ? 'External' : 'Internal',
    directMembersCount: members.length,
    members,
  };
}

const DOC_TOPICS = [
  'Q3 forecast',
  'Board deck',
  'Customer list',
  'Payroll 2024',
  'Incident postmortem',
  'Architecture overview',
  'Roadmap',
  'Vendor contracts',
  'Security review',
  'Onboarding checklist',
  'Pricing model',
  'Offsite agenda',
  'incr scan us3',
  'Pipeline export',
  'Budget',
  'Meeting notes',
  'Org chart',
  'Release plan',
];
const DOC_TYPES: Record<ConnectorDef['type'], string[]> = {
  GSUITE: ['gdoc', 'gsheet', 'gslides', 'pdf', 'docx', 'xlsx'],
  OFFICE365: ['docx', 'xlsx', 'pptx', 'pdf', 'txt'],
  SALESFORCE: ['csv', 'pdf', 'docx', 'png'],
  ZOOM: ['mp4'],
  DROPBOX: ['pdf', 'docx', 'zip', 'png'],
};

function buildDocument(
  rng: Rng,
  d: ConnectorDef,
  users: SdrUser[],
  anchor: number,
  pathy: boolean,
): SdrDocument {
  const pool = users.filter((u) => u.connector.id === d.id);
  const ownerUser = pool.length && !rng.chance(0.03) ? rng.pick(pool) : null;
  const type = pathy ? 'xlsx' : rng.pick(DOC_TYPES[d.type]);
  const native = type.startsWith('g');
  const name = pathy
    ? 'Q3 forecast.xlsx'
    : `${rng.pick(DOC_TOPICS)}${rng.chance(0.3) ? ` v${rng.int(2, 9)}` : ''}${native ? '' : `.${type}`}`;
  let sourceId: string;
  let link: string | null;
  switch (d.type) {
    case 'GSUITE':
      sourceId = `1${rng.base64url(32)}`;
      link = `https://docs.google.com/${type === 'gsheet' ? 'spreadsheets' : type === 'gslides' ? 'presentation' : 'document'}/d/${sourceId}/edit?usp=drivesdk`;
      break;
    case 'OFFICE365': {
      const site = rng.pick(['Finance', 'Engineering', 'Sales', 'HR']);
      sourceId = pathy ? PATHY_DOCUMENT_SOURCE_ID : `01${rng.chars('ABCDEFGHIJKLMNOPQRSTUVWXYZ234567', 32)}`;
      link = pathy
        ? PATHY_DOCUMENT_SOURCE_ID.replaceAll(' ', '%20')
        : `https://qualyssscmsdev.sharepoint.com/sites/${site}/Shared%20Documents/${encodeURIComponent(name)}`;
      break;
    }
    case 'SALESFORCE':
      sourceId = sfRandomId(rng, '069');
      link = `https://qualys--qlyssfengg.my.salesforce.com/sfc/p/0n0000001N43/a/0n00000${rng.alnum(5)}/${rng.alnum(43)}`;
      break;
    default:
      sourceId = `id:${rng.base64url(22)}`;
      link = `https://www.dropbox.com/scl/fi/${rng.alnum(25).toLowerCase()}/${encodeURIComponent(name)}`;
  }
  const accessType = pathy
    ? 'External'
    : rng.weighted([
        ['Internal', 50],
        ['Private', 15],
        ['External', 20],
        ['Anyonewithlink', 15],
      ] as const);
  const permissions: SdrDocumentPermission[] = [];
  const permId = (): string =>
    d.type === 'SALESFORCE'
      ? sfRandomId(rng, '06A')
      : d.type === 'GSUITE'
        ? rng.digits(20)
        : rng.base64url(28);
  const addUser = (email: string, domain: string, access: string): void => {
    permissions.push({
      sourceId: permId(),
      documentId: sourceId,
      linkedEntityType: 'User',
      role: rng.pick(['reader', 'reader', 'writer', 'commenter']),
      accessType: access,
      domain,
      email,
    });
  };
  if (accessType !== 'Private') {
    for (const u of rng.sample(pool, rng.int(1, 3)))
      if (u !== ownerUser) addUser(u.email, u.domain, 'Internal');
  }
  if (accessType === 'External' || (accessType === 'Anyonewithlink' && rng.chance(0.4))) {
    for (let i = rng.int(1, 2); i > 0; i--) {
      const trusted = rng.chance(0.25);
      const domain = trusted ? rng.pick(TRUSTED_DOMAINS) : rng.pick(EXTERNAL_DOMAINS);
      addUser(
        `${rng.pick(['j.doe', 'consultant', 'auditor', 'testuser0002', 'partner.ops'])}@${domain}`,
        domain,
        trusted ? 'Trusted' : 'External',
      );
    }
  }
  if (accessType === 'Anyonewithlink') {
    permissions.push({
      sourceId: d.type === 'GSUITE' ? 'anyoneWithLink' : permId(),
      documentId: sourceId,
      linkedEntityType: 'Anyonewithlink',
      role: 'reader',
      accessType: 'Anyonewithlink',
      domain: 'anyonewithlink',
      email: 'anyonewithlink',
    });
  }
  const outside = permissions.filter((p) => p.accessType === 'External' || p.accessType === 'Trusted');
  const externalDomains = [...new Set(outside.map((p) => p.domain))];
  const created = anchor - rng.int(1, 700) * DAY - rng.int(0, 86_399) * 1000;
  const updated = Math.min(anchor - 60_000, created + rng.int(0, 120) * DAY + rng.int(0, 86_399) * 1000);
  return {
    customerId: SDR_CUSTOMER_ID,
    connector: connectorRef(d),
    sourceId,
    version: rng.int(1, 12),
    entityType: 'DOCUMENT',
    name,
    nameAlias: name,
    type,
    size: native ? null : rng.int(2_000, 25_000_000),
    owner: ownerUser
      ? { userId: ownerUser.sourceId, email: ownerUser.email, fullName: ownerUser.fullName }
      : null,
    lastUpdatedDate: sdrDate(updated),
    createdDate: sdrDate(created),
    accessType,
    webContentLink: rng.chance(0.08) && !pathy ? null : link,
    lastUpdatedBy: rng.chance(0.1) ? null : (ownerUser?.email ?? null),
    externalDomains: externalDomains.length ? externalDomains.join(',') : null,
    externalPermissionsCount: outside.length,
    isShared: permissions.length > 0,
    permissions,
  };
}

interface AppDef {
  name: string;
  type: SdrConnectorType;
  scopes: string[];
}

const G = (s: string): string => `https://www.googleapis.com/auth/${s}`;
const APPS: AppDef[] = [
  {
    name: 'Backup and Sync from Google',
    type: 'GSUITE',
    scopes: [G('peopleapi.readonly'), G('contactstore.readonly'), G('googletalk'), G('drive')],
  },
  {
    name: 'Slack',
    type: 'GSUITE',
    scopes: [G('userinfo.email'), G('calendar.readonly'), G('drive.readonly')],
  },
  { name: 'Zoom for Google Workspace', type: 'GSUITE', scopes: [G('calendar'), G('userinfo.profile')] },
  { name: 'DocuSign eSignature', type: 'GSUITE', scopes: [G('drive.file'), G('gmail.compose')] },
  { name: 'Calendly', type: 'GSUITE', scopes: [G('calendar'), G('userinfo.email')] },
  { name: 'Grammarly', type: 'GSUITE', scopes: [G('documents'), G('userinfo.email')] },
  { name: 'Miro', type: 'GSUITE', scopes: [G('drive.file'), G('userinfo.profile')] },
  { name: 'Lucidchart', type: 'GSUITE', scopes: [G('drive'), G('userinfo.email')] },
  {
    name: 'Mail Merge Pro',
    type: 'GSUITE',
    scopes: [G('gmail.send'), G('spreadsheets'), G('gmail.readonly')],
  },
  { name: 'PDF Converter Free', type: 'GSUITE', scopes: [G('drive'), G('gmail.modify')] },
  { name: 'Trello', type: 'OFFICE365', scopes: ['User.Read', 'Mail.Read', 'offline_access'] },
  { name: 'Asana', type: 'OFFICE365', scopes: ['User.Read', 'Calendars.Read', 'Files.Read.All'] },
  {
    name: 'Adobe Acrobat',
    type: 'OFFICE365',
    scopes: ['Files.ReadWrite.All', 'User.Read', 'offline_access'],
  },
  { name: 'Smartsheet', type: 'OFFICE365', scopes: ['Files.ReadWrite', 'Sites.Read.All', 'User.Read'] },
  {
    name: 'Mailbox Analytics',
    type: 'OFFICE365',
    scopes: ['Mail.ReadWrite', 'MailboxSettings.ReadWrite', 'Directory.Read.All'],
  },
  { name: 'Box for Office', type: 'OFFICE365', scopes: ['Files.ReadWrite.All', 'User.Read'] },
  { name: 'Notion', type: 'OFFICE365', scopes: ['User.Read', 'openid', 'profile'] },
  { name: 'HubSpot Sales', type: 'SALESFORCE', scopes: ['api', 'refresh_token', 'offline_access'] },
  { name: 'Salesforce Inbox', type: 'SALESFORCE', scopes: ['api', 'web', 'refresh_token'] },
  { name: 'DataLoader.io', type: 'SALESFORCE', scopes: ['api', 'full', 'refresh_token'] },
  { name: 'Workbench', type: 'SALESFORCE', scopes: ['full', 'refresh_token', 'offline_access'] },
  { name: 'Gong', type: 'SALESFORCE', scopes: ['api', 'refresh_token', 'offline_access'] },
];

function buildApplication(
  rng: Rng,
  d: ConnectorDef,
  app: AppDef,
  users: SdrUser[],
  copy: number,
): SdrApplication {
  const sourceId =
    d.type === 'GSUITE'
      ? `${rng.digits(12)}${rng.chance(0.3) ? '' : `-${rng.chars('0123456789abcdefghijklmnopqrstuvwxyz', 32)}`}.apps.googleusercontent.com`
      : d.type === 'OFFICE365'
        ? rng.uuid4()
        : sfRandomId(rng, '0H4');
  const pool = users.filter((u) => u.connector.id === d.id);
  const appUsers = rng.sample(pool, rng.int(1, Math.max(1, Math.min(5, pool.length))));
  const score = rng.int(1, 10);
  const paid = rng.weighted([
    ['MONTHLY', 3],
    ['ANNUAL', 2],
    ['FREE', 2],
    [null, 1],
  ] as const);
  const name = copy > 0 ? `${app.name} (${copy + 1})` : app.name;
  return {
    customerId: SDR_CUSTOMER_ID,
    connector: connectorRef(d),
    sourceId,
    version: rng.int(1, 3),
    name,
    nameAlias: name,
    isAnonymous: rng.chance(0.05),
    scopes: app.scopes.join(', '),
    score,
    priceModel: paid,
    billingCycle: paid === 'FREE' || paid === null ? null : paid,
    isTrusted: rng.chance(0.3),
    userCount: appUsers.length + (rng.chance(0.3) ? rng.int(1, 20) : 0),
    exposure: score >= 8 ? 'High' : score >= 5 ? 'Medium' : 'Low',
    users: appUsers.map((u) => ({ sourceId: u.email, appId: sourceId, domain: u.domain, email: u.email })),
  };
}

const MEETING_NAMES = [
  'Weekly sync',
  'My Webinar incr scan',
  'Quarterly business review',
  'Customer onboarding',
  'All hands',
  'Security standup',
  'Sales kickoff',
  'Interview loop',
  'Design review',
];

function zoomTokenUrl(rng: Rng, kind: 'share' | 'play' | 'download', token?: string): string {
  const t = token ?? `${rng.base64url(kind === 'share' ? 64 : 80)}.${rng.base64url(16)}`;
  return `https://zoom.us/rec/${kind}/${t}`;
}

function buildMeeting(
  rng: Rng,
  d: ConnectorDef,
  users: SdrUser[],
  anchor: number,
  index: number,
): SdrMeeting {
  const pool = users.filter((u) => u.connector.id === d.id);
  const host = pool.length ? rng.pick(pool) : undefined;
  const sourceId = `${rng.base64url(22)}%3D%3D`;
  const startedAt = anchor - rng.int(1, 30) * DAY - rng.int(0, 86_399) * 1000;
  const hostEmail = host?.email ?? d.emailId;
  const hostName = host?.fullName ?? 'Madhavi Joshi';
  const hostId = host?.sourceId ?? rng.base64url(22);
  const participants: SdrMeetingParticipant[] = [
    {
      documentId: sourceId,
      linkedEntityType: 'USER',
      role: 'HOST',
      accessType: 'Internal',
      domain: d.domain,
      userId: hostId,
      email: hostEmail,
      fullName: hostName,
    },
  ];
  for (const u of rng.sample(
    pool.filter((p) => p !== host),
    rng.int(0, 4),
  )) {
    participants.push({
      documentId: sourceId,
      linkedEntityType: 'USER',
      role: 'ATTENDEE',
      accessType: 'Internal',
      domain: u.domain,
      userId: u.sourceId,
      email: u.email,
      fullName: u.fullName,
    });
  }
  if (rng.chance(0.4)) {
    const domain = rng.pick(EXTERNAL_DOMAINS);
    participants.push({
      documentId: sourceId,
      linkedEntityType: 'USER',
      role: 'ATTENDEE',
      accessType: 'External',
      domain,
      userId: null,
      email: `guest${rng.int(1, 99)}@${domain}`,
      fullName: 'Guest',
    });
  }
  const recordingCount = rng.weighted([
    [0, 4],
    [1, 3],
    [2, 3],
  ] as const);
  const recordings: SdrRecording[] = [];
  const recStart = startedAt + 1000;
  const recEnd = recStart + rng.int(40, 3600) * 1000;
  for (let i = 0; i < recordingCount; i++) {
    const token = `${rng.base64url(80)}.${rng.base64url(16)}`;
    const audio = i === 0 && recordingCount > 1;
    recordings.push({
      id: rng.uuid4(),
      meetingUUID: sourceId,
      startedAt: sdrDate(recStart),
      endedAt: sdrDate(recEnd),
      fileType: audio ? 'M4A' : 'MP4',
      fileSize: rng.int(200_000, 90_000_000),
      playUrl: zoomTokenUrl(rng, 'play', token),
      downloadUrl: zoomTokenUrl(rng, 'download', token),
      status: 'completed',
      recordingType: audio
        ? 'audio only'
        : rng.pick(['shared screen with speaker view', 'active speaker', 'gallery view']),
    });
  }
  const name = `${MEETING_NAMES[index % MEETING_NAMES.length]} ${new Date(startedAt).toISOString().slice(8, 10)}.${new Date(startedAt).toISOString().slice(5, 7)}`;
  const entityType = rng.chance(0.25) ? 'Webinar' : 'Meeting';
  return {
    customerId: SDR_CUSTOMER_ID,
    connector: connectorRef(d),
    sourceId,
    version: 1,
    meetingId: rng.digits(11),
    hostUser: {
      userId: hostId,
      email: hostEmail,
      fullName: hostName,
      department: rng.chance(0.15) ? null : rng.pick(DEPARTMENTS),
    },
    name,
    nameAlias: name,
    entityType,
    type: rng.pick(['Scheduled', 'Scheduled', 'Instant', 'Recurring']),
    startedAt: sdrDate(startedAt),
    scheduledDuration: rng.pick([0, 30, 45, 60, 90]),
    accessType: participants.some((p) => p.accessType === 'External') ? 'External' : 'Internal',
    participantsCount: participants.length,
    participants,
    recordingsCount: recordings.length,
    recordingsShareUrl: recordings.length ? zoomTokenUrl(rng, 'share') : null,
    recordings,
    recordingSetting: recordings.length
      ? {
          accessType: rng.pick(['Public', 'Internal']),
          recordingAuthentication: rng.chance(0.5),
          viewerDownload: rng.chance(0.6),
          onDemand: rng.chance(0.2),
          approvalType: rng.pick([0, 1, 2]),
        }
      : null,
  };
}

const APP_LABEL: Record<string, string> = {
  GSUITE: 'Google Workspace',
  OFFICE365: 'Office 365',
  SALESFORCE: 'Salesforce',
  ZOOM: 'Zoom',
};

interface ReportPlan {
  name: string;
  connectorId: number;
  policyId: number;
  status: SdrReportStatus;
}

/** Index 1 is the big report; index 2 is in progress, index 3 failed. */
const REPORT_PLANS: ReportPlan[] = [
  { name: 'zoom custom csv', connectorId: 2190, policyId: 284, status: 'completed' },
  { name: 'o365 cis full export', connectorId: 2245, policyId: 71, status: 'completed' },
  { name: 'gsuite weekly posture', connectorId: 2193, policyId: 81, status: 'inprogress' },
  { name: 'sfdc best practices', connectorId: 2192, policyId: 61, status: 'failed' },
  { name: 'o365 best practices', connectorId: 2245, policyId: 72, status: 'completed' },
  { name: 'sfdc monthly', connectorId: 2192, policyId: 61, status: 'completed' },
  { name: 'gsuite audit', connectorId: 2193, policyId: 81, status: 'completed' },
  { name: 'zoom best practices', connectorId: 2190, policyId: 91, status: 'completed' },
];

function buildReport(rng: Rng, index: number, connectors: ConnectorDef[], anchor: number): SdrReport {
  const plan = REPORT_PLANS[index % REPORT_PLANS.length] as ReportPlan;
  const d = connectors.find((c) => c.id === plan.connectorId) ?? (connectors[0] as ConnectorDef);
  const policy = POLICIES.find((p) => p.id === plan.policyId);
  // Reports are kept for 7 days (expiresOn); spread the list over the last few days so all are live.
  const created = anchor - ((index + 1) * DAY) / 2 - rng.int(0, 43_199) * 1000;
  const createdAt = new Date(Math.floor(created / 1000) * 1000);
  const round = Math.floor(index / REPORT_PLANS.length);
  return {
    fileUuid: uuid1(createdAt, rng),
    reportName: round > 0 ? `${plan.name} ${round + 1}` : plan.name,
    description: index === 1 ? 'Full CIS evidence export for the audit committee' : null,
    fileFormat: 'csv',
    status: plan.status,
    templateTitle: 'SDR Assessment Template',
    templateType: 'DEFAULT',
    templateName: 'SDR Assessment Template',
    createdAt: createdAt.toISOString(),
    expiresOn: new Date(createdAt.getTime() + 7 * DAY).toISOString(),
    config: {
      saasApplication: { key: d.type, value: APP_LABEL[d.type] ?? d.type },
      connectors: [{ key: d.id, value: d.name }],
      policy: { key: plan.policyId, value: policy?.name ?? 'Unknown policy' },
      result: index % 3 === 2 ? ['Fail'] : ['Pass', 'Fail', 'Error'],
      template: { key: 'SDR_Assessment Template', value: 'SaaS Assessment Template' },
    },
    createdBy: index % 2 === 0 ? 'quays_xr18' : 'quays_mj42',
  };
}

/** `count` records built in order. */
function spread<T>(count: number, build: (i: number) => T): T[] {
  return Array.from({ length: Math.max(0, count) }, (_, i) => build(i));
}

export function buildSdrDataset(seed: number, anchor: number, o: SdrOptionsResolved): SdrDataset {
  const defs = o.includeUnknownConnectorType
    ? [...CONNECTOR_DEFS, UNKNOWN_TYPE_CONNECTOR]
    : [...CONNECTOR_DEFS];
  const active = defs.filter((d) => d.enabled);
  const connectors = defs.map((d) => buildConnector(d, anchor));
  const scannerRng = Rng.for(seed, 'sdr-scanners');
  const scanners = new Map<number, SdrScanner[]>(
    defs.map((d, i) => [d.id, buildScanners(scannerRng, d, connectors[i] as SdrConnector)]),
  );

  const dbx = o.includeUnknownConnectorType ? 5 : 0;
  const userRng = Rng.for(seed, 'sdr-users');
  const taken = new Set<string>();
  const users = spread(o.users, () =>
    buildUser(
      userRng,
      pickConnector(userRng, active, { GSUITE: 30, OFFICE365: 35, SALESFORCE: 20, ZOOM: 15, DROPBOX: dbx }),
      taken,
    ),
  );

  const groupRng = Rng.for(seed, 'sdr-groups');
  const groups = spread(o.groups, (i) =>
    buildGroup(
      groupRng,
      pickConnector(groupRng, active, { GSUITE: 35, OFFICE365: 35, SALESFORCE: 20, ZOOM: 10 }),
      users,
      anchor,
      i,
    ),
  );

  const docRng = Rng.for(seed, 'sdr-documents');
  const pathyIndex = Math.min(3, o.documents - 1);
  const office = active.find((d) => d.type === 'OFFICE365');
  const documents = spread(o.documents, (i) => {
    const d =
      i === pathyIndex && office
        ? office
        : pickConnector(docRng, active, { GSUITE: 40, OFFICE365: 40, SALESFORCE: 20, DROPBOX: dbx });
    return buildDocument(docRng, d, users, anchor, i === pathyIndex && office !== undefined);
  });

  const appRng = Rng.for(seed, 'sdr-applications');
  const applications = spread(o.applications, (i) => {
    const app = APPS[i % APPS.length] as AppDef;
    const d = active.find((c) => c.type === app.type) ?? (active[0] as ConnectorDef);
    return buildApplication(appRng, d, app, users, Math.floor(i / APPS.length));
  });

  const meetingRng = Rng.for(seed, 'sdr-meetings');
  const zoom = active.find((d) => d.type === 'ZOOM') ?? (active[0] as ConnectorDef);
  const meetings = spread(o.meetings, (i) => buildMeeting(meetingRng, zoom, users, anchor, i));

  const reportRng = Rng.for(seed, 'sdr-reports');
  const reports = spread(o.reports, (i) => buildReport(reportRng, i, defs, anchor));

  const policies: SdrPolicy[] = POLICIES.map((p) => ({
    id: p.id,
    connectorType: p.connectorType,
    name: p.name,
    description: p.description,
    version: p.version,
    type: p.type,
    scope: p.scope,
    isSystemCreated: p.type === 'System Defined',
    createdDate: p.createdDate,
    updatedDate: p.updatedDate,
    createdBy: p.createdBy,
    updatedBy: p.createdBy,
    controlCount: p.controls.length,
    controls: p.controls.filter((cid) => CONTROLS.has(cid)),
    customerId: null,
    connectors: connectors.filter((c) => c.connectorType === p.connectorType && c.isEnabled === 1),
  }));

  return {
    connectors,
    connectorDefs: defs,
    scanners,
    users,
    groups,
    documents,
    applications,
    meetings,
    reports,
    policies,
  };
}
