import { rmSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BuildOptions, buildSync, type Metafile, type OutputFile } from 'esbuild';
import type { BundleName } from '../functions/core/names';

/** Repository root, whether this file runs from source (tsx, vitest) or elsewhere. */
export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Where `npm run build` writes a function's bundle. */
export function distDir(name: BundleName): string {
  return path.join(PROJECT_ROOT, 'dist', 'functions', name);
}

/**
 * The one set of esbuild options for every Lambda bundle: `npm run build` and the CDK asset
 * bundling both call {@link bundleFunction}, so what is tested locally is what is deployed.
 * The AWS SDK is bundled (not taken from the runtime) so the deployed code runs the versions
 * in package-lock.json.
 *
 * Code splitting keeps what is loaded with `await import()` out of the import: the SDK's
 * credential providers beyond the environment's (SSO, INI files, STS, IMDS, ...: a Lambda has its
 * role's keys in the environment, so they never load there) and lib-storage's multipart upload
 * (only a streamed report download loads it). Without splitting esbuild inlines them, and every
 * cold start parses them. The handler stays `index.mjs`; the rest are `chunks/*.mjs` beside it.
 */
export function bundleOptions(name: BundleName, outdir: string): BuildOptions {
  return {
    entryPoints: { index: path.join(PROJECT_ROOT, 'functions', name, 'index.ts') },
    outdir,
    absWorkingDir: PROJECT_ROOT,
    outExtension: { '.js': '.mjs' },
    chunkNames: 'chunks/[name]-[hash]',
    splitting: true,
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
    // @middy/core imports node:stream/web for its streamed-response mode only, and that import
    // loads Node's web streams in every cold start; functions/runtime/web-streams-on-demand.ts
    // stands in for it (test/infra/lean-bundles.test.ts: nothing else imports it).
    alias: { 'node:stream/web': path.join(PROJECT_ROOT, 'functions', 'runtime', 'web-streams-on-demand.ts') },
    // No `require` banner (createRequire in every output file, a cost at each import): nothing
    // bundled calls require(). A CommonJS dependency that did would get esbuild's shim, which
    // throws at run time; test/infra/lean-bundles.test.ts fails on that shim first.
  };
}

/** Builds a function's bundle into `outdir`, replacing what an earlier build left there (chunk names carry hashes). */
export function bundleFunction(name: BundleName, outdir: string = distDir(name)): void {
  rmSync(outdir, { recursive: true, force: true });
  buildSync(bundleOptions(name, outdir));
}

/**
 * The output files (relative to the project, as in the metafile) an import of `outdir`/index.mjs
 * reads: it and, transitively, what it imports statically; chunks reached only through
 * `await import()` are left out.
 */
export function loadedAtImport(metafile: Metafile, outdir: string): string[] {
  const outputs = metafile.outputs;
  const pending = [path.relative(PROJECT_ROOT, path.join(outdir, 'index.mjs'))];
  const loaded = new Set<string>();
  for (let file = pending.pop(); file !== undefined; file = pending.pop()) {
    if (loaded.has(file)) continue;
    loaded.add(file);
    for (const { path: imported, kind } of outputs[file]?.imports ?? [])
      if (kind === 'import-statement' && imported in outputs) pending.push(imported);
  }
  return [...loaded].filter((file) => file.endsWith('.mjs'));
}

/** The source files (paths as in the metafile) whose code ends up in `files`; what tree shaking dropped is left out. */
export function inputsOf(metafile: Metafile, files: readonly string[]): string[] {
  return files.flatMap((file) =>
    Object.entries(metafile.outputs[file]?.inputs ?? {})
      .filter(([, { bytesInOutput }]) => bytesInOutput > 0)
      .map(([input]) => input),
  );
}

/** The npm package a source file belongs to, e.g. `@aws-sdk/client-s3`; undefined for the project's own files. */
export function packageOf(input: string): string | undefined {
  return /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(input)?.[1];
}

/** The npm packages whose code a function's bundle holds, by when they load. */
export interface BundledPackages {
  /** Loaded by the import of the handler, e.g. `@aws-sdk/client-s3`. */
  atImport: Set<string>;
  /** Only in chunks that `await import()` loads later, if ever. */
  later: Set<string>;
}

/** A function's bundle built in memory (nothing written): its output files and esbuild's metafile. */
export function bundleInMemory(name: BundleName): { metafile: Metafile; outputFiles: OutputFile[] } {
  return buildSync({ ...bundleOptions(name, distDir(name)), metafile: true, write: false });
}

/** A function's bundle as esbuild describes it (built in memory, nothing written). */
export function bundleMetafile(name: BundleName): Metafile {
  return bundleInMemory(name).metafile;
}

/**
 * The npm packages whose code ends up in a function's bundle (from esbuild's metafile, nothing
 * written); a package imported but tree-shaken away is not counted.
 */
export function bundledPackages(name: BundleName): BundledPackages {
  const metafile = bundleMetafile(name);
  const packagesOf = (files: readonly string[]) =>
    new Set(inputsOf(metafile, files).flatMap((input) => packageOf(input) ?? []));
  const loaded = loadedAtImport(metafile, distDir(name));
  const atImport = packagesOf(loaded);
  const rest = Object.keys(metafile.outputs).filter(
    (file) => file.endsWith('.mjs') && !loaded.includes(file),
  );
  return { atImport, later: new Set([...packagesOf(rest)].filter((item) => !atImport.has(item))) };
}
