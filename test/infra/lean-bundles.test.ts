import { describe, expect, it } from 'vitest';
import { FUNCTION_NAMES } from '../../functions/core/names';
import { COLLECTOR_MANIFESTS } from '../../functions/manifests';
import { bundledPackages } from '../../lib/bundle';

// Each bundle is built in memory with the options `npm run build` uses: about a second each.
describe('lean bundles', () => {
  it.each(FUNCTION_NAMES)(
    '%s bundles only the SDK clients it uses: SNS only if it publishes alerts',
    (name) => {
      const clients = [...bundledPackages(name)].filter((item) => item.startsWith('@aws-sdk/client-')).sort();
      expect(clients).toEqual(
        [
          '@aws-sdk/client-s3',
          '@aws-sdk/client-secrets-manager',
          ...(COLLECTOR_MANIFESTS[name].publishesAlerts ? ['@aws-sdk/client-sns'] : []),
        ].sort(),
      );
    },
    30_000,
  );
});
