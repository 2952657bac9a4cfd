import { describe, expect, it } from 'vitest';
import { ABORT_MARGIN_MS } from '../../../functions/core/run';
import { lambda } from '../../../functions/runtime/handler';

const contextWithMs = (remainingMs: number) => ({
  functionName: 'qualys-lake-test',
  awsRequestId: 'test',
  getRemainingTimeInMillis: () => remainingMs,
});

describe('lambda', () => {
  it('aborts the run at the early timeout and ends the invocation only once the run has settled', async () => {
    const steps: string[] = [];
    const handler = lambda(async (_event: unknown, _context, signal) => {
      await new Promise((resolve) => signal?.addEventListener('abort', resolve, { once: true }));
      steps.push('aborted');
      // What an aborted run still does before it settles: its calls fail, it ends its steps.
      await new Promise((resolve) => setTimeout(resolve, 50));
      steps.push('settled');
      throw new Error('the run was cut off');
    });

    await expect(handler({}, contextWithMs(ABORT_MARGIN_MS + 20) as never)).rejects.toThrow();
    steps.push('returned');
    expect(steps).toEqual(['aborted', 'settled', 'returned']);
  });

  it('returns what the run returns when it ends in time', async () => {
    const handler = lambda(async (_event: unknown, _context, signal) => ({ aborted: signal?.aborted }));
    await expect(handler({}, contextWithMs(60_000) as never)).resolves.toEqual({ aborted: false });
  });
});
