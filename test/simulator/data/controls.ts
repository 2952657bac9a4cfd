/** Static SaaSDR control catalog and policies (seed-independent so ids and names are stable). */

export type SdrConnectorType = 'GSUITE' | 'OFFICE365' | 'SALESFORCE' | 'ZOOM';
export type Criticality = 'Critical' | 'High' | 'Medium' | 'Low';

export interface ControlDef {
  cid: string;
  connectorType: SdrConnectorType;
  name: string;
  criticality: Criticality;
  isRemediable: 'Yes' | 'No';
}

const O365: [number, string][] = [
  [70101, 'Ensure multifactor authentication is enabled for all users in administrative roles'],
  [70102, 'Ensure multifactor authentication is enabled for all users in all roles'],
  [70103, 'Ensure that between two and four global admins are designated'],
  [70104, 'Ensure self-service password reset is enabled'],
  [70105, 'Ensure that password protection is enabled for Active Directory'],
  [70106, 'Ensure the admin consent workflow is enabled'],
  [70107, 'Ensure third party integrated applications are not allowed'],
  [70108, 'Ensure modern authentication for Exchange Online is enabled'],
  [70109, 'Ensure mailbox auditing for all users is Enabled'],
  [70110, 'Ensure the Common Attachment Types Filter is enabled'],
  [70111, 'Ensure Exchange Online Spam Policies are set to notify administrators'],
  [70112, 'Ensure that an anti-phishing policy has been created'],
  [70113, 'Ensure Advanced Threat Protection Safe Attachments policy is enabled'],
  [70114, 'Ensure Safe Links for Office Applications is Enabled'],
  [70115, 'Ensure that SPF records are published for all Exchange Domains'],
  [70116, 'Ensure that DKIM is enabled for all Exchange Online Domains'],
  [70117, 'Ensure DMARC Records for all Exchange Online domains are published'],
  [70118, 'Ensure mail transport rules do not forward email to external domains'],
  [70119, 'Ensure Microsoft 365 audit log search is Enabled'],
  [70120, 'Ensure document sharing is being controlled by domains with allowlist or denylist'],
  [70121, 'Ensure external sharing of SharePoint sites is restricted'],
  [70122, 'Ensure SharePoint external sharing anyone links expire'],
  [70123, 'Ensure OneDrive for Business sync from unmanaged devices is blocked'],
  [70124, 'Ensure external domains are not allowed in Skype or Teams'],
  [70125, 'Ensure calendar details sharing with external users is disabled'],
  [70126, 'Ensure that Office 365 Passwords Are Not Set to Expire'],
];

const SALESFORCE: [number, string][] = [
  [70127, 'Ensure multi-factor authentication is required for all users'],
  [70128, 'Ensure session timeout is set to 2 hours or less'],
  [70129, 'Ensure minimum password length is at least 8 characters'],
  [70130, 'Ensure password complexity requires alpha, numeric and special characters'],
  [70131, 'Ensure user passwords expire in 90 days or less'],
  [70132, 'Ensure password history remembers at least 3 passwords'],
  [70133, 'Ensure maximum invalid login attempts is set to 5 or less'],
  [70134, 'Ensure lockout effective period is at least 15 minutes'],
  [70135, 'Ensure login IP ranges are restricted for all profiles'],
  [70136, 'Ensure high assurance session security is required for connected apps'],
  [70137, 'Ensure clickjack protection is enabled for Setup pages'],
  [70138, 'Ensure clickjack protection is enabled for Visualforce pages'],
  [70139, 'Ensure CSRF protection is enabled on GET requests on non-setup pages'],
  [70140, 'Ensure the HttpOnly attribute is set for session cookies'],
  [70141, 'Ensure XSS protection is enabled'],
  [70142, 'Ensure Content Sniffing protection is enabled'],
  [70143, 'Ensure Referrer URL protection is enabled'],
  [70144, 'Ensure sessions are locked to the IP address from which they originated'],
  [70145, 'Ensure cross-domain session information exchange is disabled'],
  [70146, 'Ensure HTTPS is required for all connections'],
  [70147, 'Ensure guest user access to public APIs is disabled'],
  [70148, 'Ensure secure guest user record access is enabled'],
  [70149, "Ensure the 'View All Data' permission is limited to administrators"],
  [70150, "Ensure the 'Modify All Data' permission is limited to administrators"],
  [70151, "Ensure the 'API Enabled' permission is restricted"],
  [70152, 'Ensure field history tracking is enabled on sensitive objects'],
  [70153, 'Ensure the default external access for all objects is private'],
  [70154, 'Ensure connected apps are admin-approved'],
  [70155, 'Ensure login hours are restricted for all profiles'],
  [70156, 'Ensure identity verification is required for email address changes'],
  [70157, 'Ensure the Health Check baseline score is at least 80'],
  [70158, 'Ensure the setup audit trail is retained and reviewed'],
  [70159, 'Ensure event monitoring is enabled'],
];

const GSUITE: [number, string][] = [
  [70201, 'Ensure 2-step verification is enforced for all users in administrative roles'],
  [70202, 'Ensure 2-step verification is enforced for all users'],
  [70203, 'Ensure super admin accounts use security keys'],
  [70204, 'Ensure that there are between two and four super admins'],
  [70205, 'Ensure the password policy enforces a minimum length of 12 characters'],
  [70206, 'Ensure users cannot share Drive files outside the organization'],
  [70207, 'Ensure Drive link sharing defaults to restricted'],
  [70208, 'Ensure Drive files cannot be published on the web'],
  [70209, 'Ensure the Drive access checker is set to recipients only'],
  [70210, 'Ensure Drive for desktop is restricted to managed devices'],
  [70211, 'Ensure external Calendar sharing is limited to free/busy information'],
  [70212, 'Ensure automatic forwarding of Gmail is disabled'],
  [70213, 'Ensure DKIM is enabled for all mail-enabled domains'],
  [70214, 'Ensure an SPF record is configured for all mail-enabled domains'],
  [70215, 'Ensure a DMARC record is configured for all mail-enabled domains'],
  [70216, 'Ensure POP and IMAP access is disabled for all users'],
  [70217, 'Ensure less secure app access is disabled'],
  [70218, 'Ensure third-party app access to Google services is restricted'],
  [70219, 'Ensure external chat is restricted to allowlisted domains'],
  [70220, 'Ensure users cannot create Google Groups accessible to external users'],
  [70221, 'Ensure login challenges are enabled'],
  [70222, 'Ensure super admin account recovery is disabled'],
];

const ZOOM: [number, string][] = [
  [70301, 'Ensure a passcode is required for all new meetings'],
  [70302, 'Ensure the waiting room is enabled for all meetings'],
  [70303, 'Ensure join before host is disabled'],
  [70304, 'Ensure only authenticated users can join meetings'],
  [70305, 'Ensure meeting screen sharing is restricted to the host'],
  [70306, 'Ensure file transfer in meeting chat is disabled'],
  [70307, 'Ensure cloud recordings require authentication to view'],
  [70308, 'Ensure cloud recordings are automatically deleted after 90 days'],
  [70309, 'Ensure viewers cannot download shared cloud recordings'],
  [70310, 'Ensure end-to-end encryption is enabled for meetings'],
  [70311, 'Ensure remote control is disabled'],
  [70312, 'Ensure the meeting passcode is not embedded in the meeting link'],
  [70313, 'Ensure sign-in with single sign-on is required'],
  [70314, 'Ensure two-factor authentication is enabled for all users'],
  [70315, 'Ensure meeting chat with external users is disabled'],
  [70316, 'Ensure local recording is disabled'],
];

const CRITICALITY_CYCLE: Criticality[] = [
  'High',
  'Medium',
  'High',
  'Low',
  'Critical',
  'Medium',
  'High',
  'Low',
];

function defs(type: SdrConnectorType, list: [number, string][]): ControlDef[] {
  return list.map(([cid, name], i) => ({
    cid: String(cid),
    connectorType: type,
    name,
    criticality: CRITICALITY_CYCLE[(cid * 7 + i) % CRITICALITY_CYCLE.length] ?? 'Medium',
    isRemediable: cid % 3 === 0 ? 'Yes' : 'No',
  }));
}

export const CONTROLS: ReadonlyMap<string, ControlDef> = new Map(
  [
    ...defs('OFFICE365', O365),
    ...defs('SALESFORCE', SALESFORCE),
    ...defs('GSUITE', GSUITE),
    ...defs('ZOOM', ZOOM),
  ].map((c) => [c.cid, c]),
);

export interface PolicyDef {
  id: number;
  connectorType: SdrConnectorType;
  name: string;
  description: string;
  version: string;
  type: 'System Defined' | 'User Defined';
  scope: string[];
  createdBy: string;
  createdDate: string;
  updatedDate: string;
  controls: string[];
}

const range = (from: number, to: number): string[] =>
  Array.from({ length: to - from + 1 }, (_, i) => String(from + i));

export const POLICIES: readonly PolicyDef[] = [
  {
    id: 61,
    connectorType: 'SALESFORCE',
    name: 'Salesforce Best Practices',
    description:
      'This policy provides prescriptive guidance for configuring security options for a subset of Salesforce Services with an emphasis on foundational, testable, and architecture agnostic settings.',
    version: 'v1.4.0',
    type: 'System Defined',
    scope: ['Identity management'],
    createdBy: 'SYSTEM',
    createdDate: '2021-01-08T07:19:12Z',
    updatedDate: '2021-07-22T12:22:05Z',
    // Same order as the sample policy.
    controls: [...range(70133, 70139), ...range(70127, 70132), ...range(70140, 70159)],
  },
  {
    id: 71,
    connectorType: 'OFFICE365',
    name: 'CIS Microsoft 365 Foundations Benchmark, v1.4.0',
    description:
      'This policy provides prescriptive guidance for establishing a secure configuration posture for Microsoft 365, based on the CIS Microsoft 365 Foundations Benchmark.',
    version: 'v1.4.0',
    type: 'System Defined',
    scope: ['Identity management', 'Data protection', 'Email security'],
    createdBy: 'SYSTEM',
    createdDate: '2021-03-15T06:10:44Z',
    updatedDate: '2022-11-02T09:41:18Z',
    controls: range(70101, 70126),
  },
  {
    id: 72,
    connectorType: 'OFFICE365',
    name: 'Microsoft Office 365 Best Practices',
    description:
      'This policy provides guidance for configuring the most important security options of Microsoft Office 365 tenants.',
    version: 'v1.1.0',
    type: 'System Defined',
    scope: ['Identity management', 'Data protection'],
    createdBy: 'SYSTEM',
    createdDate: '2021-01-08T07:19:12Z',
    updatedDate: '2021-07-22T12:22:05Z',
    controls: [
      '70101',
      '70102',
      '70104',
      '70106',
      '70108',
      '70109',
      '70113',
      '70115',
      '70116',
      '70117',
      '70119',
      '70121',
      '70122',
      '70126',
    ],
  },
  {
    id: 81,
    connectorType: 'GSUITE',
    name: 'Google Workspace Best Practices',
    description:
      'This policy provides prescriptive guidance for configuring security options for Google Workspace, with an emphasis on identity, data sharing and mail security.',
    version: 'v1.2.0',
    type: 'System Defined',
    scope: ['Identity management', 'Data protection'],
    createdBy: 'SYSTEM',
    createdDate: '2021-01-08T07:19:12Z',
    updatedDate: '2021-09-01T10:05:33Z',
    controls: range(70201, 70222),
  },
  {
    id: 91,
    connectorType: 'ZOOM',
    name: 'Zoom Best Practices',
    description:
      'This policy provides guidance for configuring meeting, recording and account security options of Zoom.',
    version: 'v1.0.0',
    type: 'System Defined',
    scope: ['Meeting security'],
    createdBy: 'SYSTEM',
    createdDate: '2021-02-11T08:30:00Z',
    updatedDate: '2021-07-22T12:22:05Z',
    controls: range(70301, 70316),
  },
  {
    id: 284,
    connectorType: 'ZOOM',
    name: 'Zoom custom xr18 29.09',
    description: 'Custom policy for meeting and recording hygiene.',
    version: 'v1.0.0',
    type: 'User Defined',
    scope: ['Meeting security'],
    createdBy: 'quays_xr18',
    createdDate: '2021-09-29T08:12:40Z',
    updatedDate: '2021-09-29T08:12:40Z',
    controls: [
      '70301',
      '70302',
      '70303',
      '70304',
      '70305',
      '70306',
      '70307',
      '70308',
      '70309',
      '70312',
      '70315',
      '70316',
    ],
  },
];
