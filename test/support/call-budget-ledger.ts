import { PutObjectCommand } from '@aws-sdk/client-s3';
import { CALL_BUDGET_LEDGER_KEY } from '../../functions/core/names';
import { DEFAULT_SUBSCRIPTION, scopeKey } from '../../functions/core/subscription';
import type { LedgerState } from '../../functions/qualys/ledger';
import { decodeLedger, encodeLedger } from '../../functions/qualys/ledger-store';
import { getBytes, type LocalAws } from './local-aws';

/** Where a subscription's collectors keep their call-budget ledger. */
export const ledgerKey = (subscription = DEFAULT_SUBSCRIPTION) =>
  scopeKey(CALL_BUDGET_LEDGER_KEY, subscription);

/** The call-budget ledger of a subscription in a test bucket, as the collectors keep it. */
export async function readLedger(
  aws: LocalAws,
  bucket: string,
  subscription = DEFAULT_SUBSCRIPTION,
): Promise<LedgerState> {
  const { state, problem } = decodeLedger(
    Buffer.from(await getBytes(aws, bucket, ledgerKey(subscription))).toString(),
  );
  if (problem) throw new Error(problem);
  return state;
}

export async function writeLedger(aws: LocalAws, bucket: string, state: LedgerState): Promise<void> {
  await aws.s3.send(new PutObjectCommand({ Bucket: bucket, Key: ledgerKey(), Body: encodeLedger(state) }));
}

/**
 * Moves every time in the ledger `ms` into the past: as far as the ledger can tell, that much time
 * has passed. Tests that move the simulator's clock forward (a window reopens) do this too, since
 * the collectors read the ledger by their own clock.
 */
export async function ageLedger(aws: LocalAws, bucket: string, ms: number): Promise<void> {
  const state = await readLedger(aws, bucket);
  const { gateway, refusedUntil } = state;
  await writeLedger(aws, bucket, {
    ...(gateway
      ? { gateway: { ...gateway, observedAt: gateway.observedAt - ms, reopensAt: gateway.reopensAt - ms } }
      : {}),
    ...(refusedUntil === undefined ? {} : { refusedUntil: refusedUntil - ms }),
    inFlight: state.inFlight.map((call) => ({
      ...call,
      startedAt: call.startedAt - ms,
      expiresAt: call.expiresAt - ms,
    })),
  });
}
