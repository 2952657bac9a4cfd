/** Errors of the Qualys client. Messages name the endpoint and status, never a credential. */

export class QualysApiError extends Error {
  override name = 'QualysApiError';
  /** The body as the gateway sent it, when it could not be used (not JSON, not the expected shape). */
  declare readonly body?: Uint8Array;

  constructor(
    readonly endpoint: string,
    readonly status: number | undefined,
    detail: string,
    body?: Uint8Array,
  ) {
    super(`${endpoint}${status === undefined ? '' : ` answered ${status}`}: ${detail}`);
    // Not enumerable: a logged or serialised error never carries the bytes.
    if (body) Object.defineProperty(this, 'body', { value: body, enumerable: false });
  }
}

/**
 * The gateway answered a redirect (3xx). None is ever followed: the password or the token would go
 * with it to wherever it points. The message names the status and the target's scheme and host,
 * never its path, query or user part.
 */
export class QualysRedirectError extends QualysApiError {
  override name = 'QualysRedirectError';
  constructor(
    endpoint: string,
    status: number,
    /** `https://host:port` of the Location, or undefined when it has none that parses. */
    readonly target: string | undefined,
  ) {
    super(
      endpoint,
      status,
      `redirect to ${target === undefined ? 'an unreadable location' : `host ${target}`} refused: ` +
        'qualys-lake follows no redirect (check baseUrl in the Qualys secret)',
    );
  }
}

/**
 * A path segment built from API data (a connector id, a policy id, a report's fileUuid) is empty or
 * a dot segment, also once percent-decoded: `/report/download/..` would resolve to another path.
 */
export class UnsafePathSegmentError extends Error {
  override name = 'UnsafePathSegmentError';
}

/** Authentication failed even after re-reading the secret: the credentials are wrong or locked. */
export class QualysAuthError extends QualysApiError {
  override name = 'QualysAuthError';
}

/**
 * The call budget is spent (or the wait for it would pass the deadline). Not a failure: the
 * collector checkpoints and ends the run cleanly; the next scheduled run carries on.
 */
export class BudgetExhaustedError extends Error {
  override name = 'BudgetExhaustedError';
  constructor(
    readonly waitMs: number,
    reason: string,
  ) {
    super(reason);
  }
}

/** Not enough time is left before the Lambda deadline to make another call safely. */
export class DeadlineError extends Error {
  override name = 'DeadlineError';
}

/** True when an error means "stop now and checkpoint", as opposed to a real failure. */
export function isStopSignal(error: unknown): error is BudgetExhaustedError | DeadlineError {
  return error instanceof BudgetExhaustedError || error instanceof DeadlineError;
}
