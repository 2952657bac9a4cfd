/** Errors of the Qualys client. Messages name the endpoint and status, never a credential. */

export class QualysApiError extends Error {
  override name = 'QualysApiError';
  constructor(
    readonly endpoint: string,
    readonly status: number | undefined,
    detail: string,
  ) {
    super(`${endpoint}${status === undefined ? '' : ` answered ${status}`}: ${detail}`);
  }
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
