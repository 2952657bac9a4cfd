/**
 * `qualys-lake doctor`: before a deploy (or after a failed run), checks what the collectors need
 * from the Qualys side — the gateway URL, the login, CDR findings, every SaaSDR list, and the
 * posture report of one connector and policy — one call each at the smallest page, and says what
 * each answer means. It never prints the password or the token, never follows a redirect, and
 * sends the password only to a URL that passed the gateway check.
 */
import * as v from 'valibot';
import { DEFAULT_CDR_QUERY } from '../../functions/cdr-findings/config';
import { CDR_FINDINGS_PATH } from '../../functions/qualys/cdr';
import { checkGateway, type GatewayPolicy } from '../../functions/qualys/gateway';
import { type RateLimitSnapshot, readRateLimitHeaders } from '../../functions/qualys/limits';
import { PageSchema } from '../../functions/qualys/schemas';
import { CONNECTOR_TYPES, SDR_MAX_PAGE_SIZE, SDR_PATHS } from '../../functions/qualys/sdr';

export interface DoctorOptions {
  baseUrl: string;
  username: string;
  password: string;
  gateway: GatewayPolicy;
  /** Skip the CDR or the SaaSDR checks, for a subscription without that product. */
  cdr: boolean;
  saasdr: boolean;
  timeoutMs: number;
  fetch?: typeof fetch;
  now?: () => number;
}

export type CheckState = 'ok' | 'failed' | 'rate-limited' | 'skipped';

export interface Check {
  endpoint: string;
  state: CheckState;
  status?: number;
  ms?: number;
  meaning: string;
}

export interface DoctorReport {
  checks: Check[];
  /** The rate-limit headers of the last answer that had them, as the gateway announced them. */
  limits?: RateLimitSnapshot;
  /** Calls this check spent of the subscription's budget (the login is not counted by Qualys). */
  calls: number;
}

const SDR_LISTS = [
  'connectors',
  'users',
  'groups',
  'documents',
  'applications',
  'meetings',
  'reports',
  'policies',
] as const;

interface Answer {
  status?: number;
  ms: number;
  body?: unknown;
  headers?: Headers;
  /** Why there is no answer: the connection failed or timed out. */
  unreachable?: string;
}

export async function doctor(options: DoctorOptions): Promise<DoctorReport> {
  const fetchImpl = options.fetch ?? globalThis.fetch;
  const now = options.now ?? Date.now;
  const report: DoctorReport = { checks: [], calls: 0 };
  const add = (check: Check) => report.checks.push(check);

  let gateway: URL;
  try {
    const checked = checkGateway(options.baseUrl, options.gateway);
    gateway = new URL(checked.href.replace(/\/?$/, '/'));
    add({
      endpoint: 'base URL',
      state: 'ok',
      meaning: `${gateway.origin} is a gateway the collectors accept`,
    });
  } catch (error) {
    // The gateway check speaks of the secret and its env setting; here they are options.
    const message = (error as Error).message.replace(/^secret: /, '');
    add({
      endpoint: 'base URL',
      state: 'failed',
      meaning: message.replace('with QUALYS_ALLOWED_HOSTS', 'with --allow-host'),
    });
    return skipRest(report, 'the base URL was refused, so the password was not sent');
  }

  const send = async (path: string, init: RequestInit, json: boolean): Promise<Answer> => {
    const started = now();
    const url = new URL(path.replace(/^\//, ''), gateway);
    try {
      const response = await fetchImpl(url, {
        ...init,
        redirect: 'manual',
        signal: AbortSignal.timeout(options.timeoutMs),
      });
      const text = await response.text();
      let body: unknown = text;
      if (json) {
        try {
          body = JSON.parse(text);
        } catch {
          body = undefined;
        }
      }
      return { status: response.status, ms: now() - started, body, headers: response.headers };
    } catch (error) {
      const cause = (error as { cause?: { code?: string } }).cause?.code;
      const reason =
        (error as Error).name === 'TimeoutError'
          ? `no answer within ${options.timeoutMs} ms`
          : `could not connect to ${gateway.host}${cause ? ` (${cause})` : ''}`;
      return { ms: now() - started, unreachable: reason };
    }
  };

  const login = await send(
    '/auth',
    {
      method: 'POST',
      headers: {
        'Content-Type': 'application/x-www-form-urlencoded',
        Accept: 'text/plain, application/json',
      },
      body: new URLSearchParams({ username: options.username, password: options.password, token: 'true' }),
    },
    false,
  );
  const token = typeof login.body === 'string' ? login.body.trim() : '';
  const loggedIn = login.status === 200 && token.split('.').length === 3;
  add({
    endpoint: 'POST /auth',
    state: login.status === 409 || login.status === 429 ? 'rate-limited' : loggedIn ? 'ok' : 'failed',
    status: login.status,
    ms: login.ms,
    meaning: loggedIn
      ? `logged in as ${options.username}`
      : (login.unreachable ?? loginProblem(login.status, options.username, login.headers)),
  });
  if (!loggedIn) return skipRest(report, 'not logged in');

  const headers = { Authorization: `Bearer ${token}`, Accept: 'application/json' };
  const get = async (path: string, query: Record<string, string | number>) => {
    const search = new URLSearchParams(
      Object.entries(query).map(([key, value]): [string, string] => [key, String(value)]),
    );
    const answer = await send(`${path}${search.size ? `?${search}` : ''}`, { headers }, true);
    if (answer.status !== undefined) report.calls++;
    if (answer.headers && answer.headers.get('x-ratelimit-limit') !== null)
      report.limits = readRateLimitHeaders(answer.headers);
    return answer;
  };

  if (options.cdr) {
    const end = now();
    const answer = await get(CDR_FINDINGS_PATH, {
      query: DEFAULT_CDR_QUERY,
      startAt: new Date(end - 24 * 3600_000).toISOString(),
      endAt: new Date(end).toISOString(),
      offSet: 0,
      limit: 1,
    });
    add(
      listCheck(`GET ${CDR_FINDINGS_PATH}`, answer, 'CDR', (total) => `${total} findings in the last 24 h`),
    );
  } else
    add({ endpoint: `GET ${CDR_FINDINGS_PATH}`, state: 'skipped', meaning: 'CDR not checked (--no-cdr)' });

  if (!options.saasdr) {
    add({ endpoint: 'GET /sdr/api/v1/…', state: 'skipped', meaning: 'SaaSDR not checked (--no-saasdr)' });
    return report;
  }
  const firsts: Partial<Record<(typeof SDR_LISTS)[number], Record<string, unknown>>> = {};
  for (const list of SDR_LISTS) {
    const answer = await get(SDR_PATHS[list], { page: 0, size: 1 });
    add(listCheck(`GET ${SDR_PATHS[list]}`, answer, 'SaaSDR', (total) => `${total} ${list}`));
    const first = pageContent(answer.body)[0];
    if (answer.status === 200 && first && typeof first === 'object')
      firsts[list] = first as Record<string, unknown>;
  }
  const connector = firsts.connectors;
  let policy = firsts.policies;
  if (connector && policy && policy.connectorType !== connector.connectorType) {
    // The first policy is for another connector type: one call over a full page finds one that fits.
    const more = await get(SDR_PATHS.policies, { page: 0, size: SDR_MAX_PAGE_SIZE });
    const content = pageContent(more.body);
    policy = content.find(
      (item): item is Record<string, unknown> =>
        typeof item === 'object' &&
        item !== null &&
        'connectorType' in item &&
        item.connectorType === connector.connectorType,
    );
  }
  if (!connector || !policy) {
    const missing = connector ? `policy for the ${String(connector.connectorType)} connector` : 'connector';
    add({
      endpoint: `GET ${SDR_PATHS.reporting}`,
      state: 'skipped',
      meaning: `no ${missing} yet to ask about`,
    });
    return report;
  }
  const connectorId = String(connector.id ?? '');
  const scanners = await get(SDR_PATHS.scanners(connectorId), { page: 0, size: 1 });
  add(
    listCheck(`GET ${SDR_PATHS.scanners(connectorId)}`, scanners, 'SaaSDR', (total) => `${total} scanners`),
  );
  const type = String(connector.connectorType ?? connector.type ?? '');
  const reporting = await get(SDR_PATHS.reporting, {
    policyName: String(policy.name ?? policy.policyName ?? ''),
    connectorId,
    connectorType: CONNECTOR_TYPES[type] ?? type,
    controlEvaluations: 'Pass,Fail,Error',
    pageNumber: 1,
  });
  add(
    listCheck(
      `GET ${SDR_PATHS.reporting}`,
      reporting,
      'SaaSDR posture',
      () => `posture of connector ${connectorId} against "${String(policy.name ?? '')}" readable`,
    ),
  );
  return report;
}

/** What an answer to a list call means. `describe` gets the total when the page says one. */
function listCheck(
  endpoint: string,
  answer: Answer,
  product: string,
  describe: (total: string) => string,
): Check {
  const base = { endpoint, status: answer.status, ms: answer.ms };
  if (answer.unreachable) return { ...base, state: 'failed', meaning: answer.unreachable };
  const status = answer.status ?? 0;
  if (status === 200) {
    const body = answer.body as Record<string, unknown> | undefined;
    if (body === undefined || typeof body !== 'object')
      return { ...base, state: 'failed', meaning: 'the answer is not JSON' };
    const total = body.totalElements ?? body.totalRecords ?? body.totalBatch;
    return { ...base, state: 'ok', meaning: describe(total === undefined ? 'some' : String(total)) };
  }
  if (status === 409 || status === 429) {
    const wait = answer.headers ? readRateLimitHeaders(answer.headers).toWaitSec : undefined;
    return {
      ...base,
      state: 'rate-limited',
      meaning: `rate limited by the gateway${wait ? `: try again in ${wait} s` : ''}`,
    };
  }
  const meanings: Record<number, string> = {
    401: 'the token was refused: the login worked but this API does not accept it',
    403: `forbidden: the user or the subscription lacks ${product} (entitlement or role)`,
    404: `not found: ${product} is not enabled on this platform, or the base URL is not the account's platform`,
  };
  if (status >= 300 && status < 400)
    return { ...base, state: 'failed', meaning: redirectMeaning(answer.headers) };
  return {
    ...base,
    state: 'failed',
    meaning:
      meanings[status] ??
      (status >= 500 ? 'the gateway failed (5xx): try again later' : `unexpected ${status}`),
  };
}

function loginProblem(status: number | undefined, username: string, headers: Headers | undefined): string {
  if (status === 401 || status === 403)
    return `login refused for user "${username}": wrong username or password, or the user has no API access`;
  if (status === 409 || status === 429) return 'rate limited by the gateway: try again later';
  if (status !== undefined && status >= 300 && status < 400) return redirectMeaning(headers);
  if (status === 200) return 'the gateway answered 200 without a token';
  return `unexpected ${status}: is this the account's platform (see "Qualys gateways" in README)?`;
}

function redirectMeaning(headers: Headers | undefined): string {
  let target = 'elsewhere';
  try {
    const location = headers?.get('location');
    if (location) target = new URL(location).host;
  } catch {
    // A relative or malformed Location: name no host.
  }
  return `redirected to ${target}: not followed (the password and token go to the configured gateway only)`;
}

/** The items of a Spring page answer, or none when it is not one. */
function pageContent(body: unknown): unknown[] {
  const parsed = v.safeParse(PageSchema, body);
  return parsed.success ? parsed.output.content : [];
}

function skipRest(report: DoctorReport, why: string): DoctorReport {
  report.checks.push({ endpoint: 'the API checks', state: 'skipped', meaning: why });
  return report;
}

/** 0: everything checked works; 3: only rate limits stood in the way; 1: something failed. */
export function doctorExitCode(report: DoctorReport): number {
  if (report.checks.some((check) => check.state === 'failed')) return 1;
  if (report.checks.some((check) => check.state === 'rate-limited')) return 3;
  return report.checks.some((check) => check.state === 'skipped' && check.endpoint === 'the API checks')
    ? 1
    : 0;
}

export function formatDoctor(report: DoctorReport): string {
  const lines = report.checks.map((check) => {
    const status = check.status === undefined ? '   -' : String(check.status).padStart(4);
    const ms = check.ms === undefined ? '      -' : `${String(check.ms).padStart(5)} ms`;
    return `${check.state.padEnd(12)} ${check.endpoint.padEnd(44)} ${status} ${ms}  ${check.meaning}`;
  });
  const limits = report.limits;
  if (limits) {
    const parts = [
      limits.limit !== undefined ? `${limits.limit} calls per ${limits.windowSec ?? '?'} s` : undefined,
      limits.remaining !== undefined ? `${limits.remaining} left in this window` : undefined,
      limits.toWaitSec ? `reopens in ${limits.toWaitSec} s` : undefined,
      limits.concurrencyLimit !== undefined
        ? `concurrency ${limits.concurrencyLimit} (${limits.concurrencyRunning ?? '?'} running)`
        : undefined,
    ].filter(Boolean);
    lines.push('', `Gateway limits as announced: ${parts.join(', ')}.`);
  } else if (report.calls > 0)
    lines.push('', 'The gateway announced no rate limits (no X-RateLimit headers).');
  lines.push(
    `This check spent ${report.calls} API call${report.calls === 1 ? '' : 's'} of the subscription's budget.`,
  );
  return lines.join('\n');
}
