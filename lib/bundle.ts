import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BuildOptions, buildSync } from 'esbuild';
import type { FunctionName } from '../functions/core/names';

/** Repository root, whether this file runs from source (tsx, vitest) or elsewhere. */
export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Where `npm run build` writes a function's bundle. */
export function distDir(name: FunctionName): string {
  return path.join(PROJECT_ROOT, 'dist', 'functions', name);
}

/**
 * The one set of esbuild options for every Lambda bundle: `npm run build` and the CDK asset
 * bundling both call {@link bundleFunction}, so what is tested locally is what is deployed.
 * The AWS SDK is bundled (not taken from the runtime) so the deployed code runs the versions
 * in package-lock.json.
 */
export function bundleOptions(name: FunctionName, outdir: string): BuildOptions {
  return {
    entryPoints: [path.join(PROJECT_ROOT, 'functions', name, 'index.ts')],
    outfile: path.join(outdir, 'index.mjs'),
    bundle: true,
    platform: 'node',
    target: 'node22',
    format: 'esm',
    minify: true,
    sourcemap: true,
    sourcesContent: false,
    legalComments: 'none',
    logLevel: 'warning',
    mainFields: ['module', 'main'],
    // Some CommonJS dependencies call require(); give ESM bundles a require of their own.
    banner: {
      js: "import { createRequire as __qlCreateRequire } from 'node:module'; const require = __qlCreateRequire(import.meta.url);",
    },
  };
}

export function bundleFunction(name: FunctionName, outdir: string = distDir(name)): void {
  buildSync(bundleOptions(name, outdir));
}

/**
 * The npm packages whose code ends up in a function's bundle (from esbuild's metafile, nothing
 * written), e.g. `@aws-sdk/client-s3`; a package imported but tree-shaken away is not counted.
 */
export function bundledPackages(name: FunctionName): Set<string> {
  const { metafile } = buildSync({ ...bundleOptions(name, distDir(name)), metafile: true, write: false });
  const packages = new Set<string>();
  for (const output of Object.values(metafile.outputs)) {
    for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
      const match = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(input);
      if (match?.[1] && bytesInOutput > 0) packages.add(match[1]);
    }
  }
  return packages;
}
