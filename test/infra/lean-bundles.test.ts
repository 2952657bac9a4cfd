import { describe, expect, it } from 'vitest';
import { FUNCTION_NAMES } from '../../functions/core/names';
import { COLLECTOR_MANIFESTS } from '../../functions/manifests';
import { bundledPackages, bundleInMemory } from '../../lib/bundle';

// Each bundle is built in memory with the options `npm run build` uses: about a second each.
describe('lean bundles', () => {
  it.each(FUNCTION_NAMES)(
    '%s loads only the SDK clients every run uses, and what a run may never need only later',
    (name) => {
      const { atImport, later } = bundledPackages(name);
      const clients = [...atImport].filter((item) => item.startsWith('@aws-sdk/client-')).sort();
      expect(clients).toEqual(['@aws-sdk/client-s3', '@aws-sdk/client-secrets-manager']);
      // SNS is bundled only where alerts are published, and loaded only by a run that has alerts to
      // send (functions/aws/sns-alerts-on-demand.ts): most runs have none.
      if (COLLECTOR_MANIFESTS[name].publishesAlerts) expect(later).toContain('@aws-sdk/client-sns');
      else expect(later).not.toContain('@aws-sdk/client-sns');
      // The multipart upload of a streamed report, and the credential providers a Lambda never
      // reaches (its role's keys are in the environment), are chunks `await import()` loads.
      for (const lazy of [
        '@aws-sdk/lib-storage',
        '@aws-sdk/credential-provider-ini',
        '@aws-sdk/credential-provider-sso',
        '@aws-sdk/credential-provider-web-identity',
        '@smithy/credential-provider-imds',
      ]) {
        expect(atImport).not.toContain(lazy);
        expect(later).toContain(lazy);
      }
      expect(atImport).toContain('@aws-sdk/credential-provider-env');
    },
    30_000,
  );

  it.each(FUNCTION_NAMES)(
    "%s imports no node:stream/web (middy's import of it is answered by web-streams-on-demand.ts)",
    (name) => {
      // Importing it loads Node's web streams in every cold start; nothing here needs them.
      const { outputFiles, metafile } = bundleInMemory(name);
      const importing = outputFiles
        .filter((file) => file.path.endsWith('.mjs') && /["']node:stream\/web["']/.test(file.text))
        .map((file) => file.path);
      expect(importing).toEqual([]);
      const inputs = Object.keys(metafile.inputs);
      expect(inputs).toContain('functions/runtime/web-streams-on-demand.ts');
    },
    30_000,
  );

  it.each(FUNCTION_NAMES)(
    '%s calls no require(), so its files need no createRequire banner at import',
    (name) => {
      // esbuild gives a CommonJS dependency that calls require() a shim that throws at run time
      // without one; the banner it would need runs in every output file at import.
      const shimmed = bundleInMemory(name)
        .outputFiles.filter((file) => file.text.includes('Dynamic require of'))
        .map((file) => file.path);
      expect(shimmed).toEqual([]);
    },
    30_000,
  );
});
