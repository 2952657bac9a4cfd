/**
 * The attributes OCSF 1.1.0 requires of each class the mapping produces, as data, and a check of
 * an event against them. Read from github.com/ocsf/ocsf-schema at tag v1.1.0 (commit 8ea34523):
 * events/base_event.json (metadata, severity_id), includes/classification.json (activity_id,
 * category_uid, class_uid, type_uid), includes/occurrence.json (time), profiles/cloud.json (cloud,
 * applied: metadata.profiles = ['cloud']), events/findings/finding.json (finding_info, activity_id
 * 1 Create / 2 Update / 3 Close), events/findings/detection_finding.json,
 * events/findings/compliance_finding.json (compliance), events/discovery/discovery.json (activity_id
 * 1 Log / 2 Collect), events/discovery/user_inventory.json (user), and the objects they hold:
 * objects/metadata.json (product, version), objects/product.json (vendor_name),
 * objects/finding_info.json (uid, title), objects/cloud.json (provider), objects/compliance.json
 * (standards), objects/network_connection_info.json (direction_id). Enum ids: dictionary.json
 * (severity_id, activity_id 0 Unknown / 99 Other), the class files above, objects/compliance.json
 * (status_id 1 Pass / 2 Warning / 3 Fail). The Detection Finding's security_control profile is not
 * applied (Qualys CDR detects; it does not allow or block), so its action_id is not required.
 */
type AttributeType = 'integer' | 'timestamp' | 'string' | 'string[]' | 'object';

interface Required {
  path: string;
  type: AttributeType;
  /** The ids the enum allows; for a constant (class_uid), the one id. */
  enum?: readonly number[];
}

const SEVERITY_IDS = [0, 1, 2, 3, 4, 5, 6, 99];

const BASE: Required[] = [
  { path: 'severity_id', type: 'integer', enum: SEVERITY_IDS },
  { path: 'time', type: 'timestamp' },
  { path: 'type_uid', type: 'integer' },
  { path: 'metadata', type: 'object' },
  { path: 'metadata.version', type: 'string' },
  { path: 'metadata.product', type: 'object' },
  { path: 'metadata.product.vendor_name', type: 'string' },
  { path: 'cloud', type: 'object' },
  { path: 'cloud.provider', type: 'string' },
];

const FINDING: Required[] = [
  ...BASE,
  { path: 'activity_id', type: 'integer', enum: [0, 1, 2, 3, 99] },
  { path: 'category_uid', type: 'integer', enum: [2] },
  { path: 'finding_info', type: 'object' },
  { path: 'finding_info.uid', type: 'string' },
  { path: 'finding_info.title', type: 'string' },
];

export const REQUIRED = {
  /** events/findings/detection_finding.json, OCSF 1.1.0. */
  detectionFinding: [...FINDING, { path: 'class_uid', type: 'integer', enum: [2004] }],
  /** events/findings/compliance_finding.json, OCSF 1.1.0. */
  complianceFinding: [
    ...FINDING,
    { path: 'class_uid', type: 'integer', enum: [2003] },
    { path: 'compliance', type: 'object' },
    { path: 'compliance.standards', type: 'string[]' },
  ],
  /** events/discovery/user_inventory.json, OCSF 1.1.0. */
  userInventoryInfo: [
    ...BASE,
    { path: 'activity_id', type: 'integer', enum: [0, 1, 2, 99] },
    { path: 'category_uid', type: 'integer', enum: [5] },
    { path: 'class_uid', type: 'integer', enum: [5003] },
    { path: 'user', type: 'object' },
  ],
} satisfies Record<string, Required[]>;

/** Enum ids of optional attributes, checked when the event has them. */
const OPTIONAL_ENUMS: Record<string, readonly number[]> = {
  status_id: [0, 1, 2, 3, 4, 99], // finding.json: 1 New, 2 In Progress, 3 Suppressed, 4 Resolved
  'compliance.status_id': [0, 1, 2, 3, 99],
  'cloud.account.type_id': [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 99],
  'user.type_id': [0, 1, 2, 3, 99],
};

const at = (event: unknown, path: string): unknown =>
  path
    .split('.')
    .reduce<unknown>((value, key) => (value as Record<string, unknown> | undefined)?.[key], event);

function typeProblem(value: unknown, type: AttributeType): string | undefined {
  const ok = {
    integer: Number.isInteger(value),
    // Epoch milliseconds: an integer after 2001-09-09 (1e12 ms); seconds would be far smaller.
    timestamp: Number.isInteger(value) && (value as number) > 1e12,
    string: typeof value === 'string' && value !== '',
    'string[]':
      Array.isArray(value) &&
      value.length > 0 &&
      value.every((item) => typeof item === 'string' && item !== ''),
    object: typeof value === 'object' && value !== null && !Array.isArray(value),
  }[type];
  return ok ? undefined : `is ${JSON.stringify(value)}, not ${type}`;
}

/** What is wrong with an event against its class's required attributes and enums; empty when nothing. */
export function requirementProblems(event: unknown, required: readonly Required[]): string[] {
  const problems: string[] = [];
  for (const { path, type, enum: ids } of required) {
    const value = at(event, path);
    if (value === undefined || value === null) {
      problems.push(`${path} is missing`);
      continue;
    }
    const wrongType = typeProblem(value, type);
    if (wrongType) problems.push(`${path} ${wrongType}`);
    else if (ids && !ids.includes(value as number)) problems.push(`${path} ${value} is not one of ${ids}`);
  }
  for (const [path, ids] of Object.entries(OPTIONAL_ENUMS)) {
    const value = at(event, path);
    if (value !== undefined && !ids.includes(value as number))
      problems.push(`${path} ${value} is not one of ${ids}`);
  }
  const { type_uid, class_uid, activity_id } = event as Record<string, number | undefined>;
  if (type_uid !== (class_uid ?? Number.NaN) * 100 + (activity_id ?? Number.NaN)) {
    problems.push(`type_uid ${type_uid} is not class_uid * 100 + activity_id`);
  }
  return problems;
}
