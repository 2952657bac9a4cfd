import { secretOutputId } from '../../lib/stack-names';
import { chooseSubscription } from './backfill-command';
import { deployedSubscriptions, UsageError } from './options';

/**
 * The secret `doctor --subscription NAME` reads when `--secret-id` is absent: the one the stack
 * gives that subscription's functions, from its outputs (`<name>QualysSecretName`,
 * `QualysSecretName` for `default`), so the check reads what the collectors read. `where` names the
 * outputs file in the errors.
 */
export function subscriptionSecretId(
  subscription: string,
  outputs: Readonly<Record<string, string>>,
  where: string,
): string {
  chooseSubscription(subscription, deployedSubscriptions(outputs));
  const secret = outputs[secretOutputId(subscription)];
  if (!secret)
    throw new UsageError(
      `the stack outputs (${where}) name no secret of subscription "${subscription}" (output ${secretOutputId(subscription)}): pass the file of \`cdk deploy --outputs-file\` with --outputs, or name the secret with --secret-id`,
    );
  return secret;
}
