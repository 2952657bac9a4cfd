import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { FunctionName } from '../../functions/core/names';
import { distDir } from '../../lib/bundle';

export type Handler = (event: unknown, context: unknown) => Promise<unknown>;

let generation = 0;
/** The environment before any handler was loaded: each load starts from it, so settings never leak. */
const baseline = { ...process.env };

/**
 * Where each instance is copied before it is imported. vitest imports a file under a `node_modules`
 * folder natively, as Node (and Lambda) would, instead of transforming it: for a 600 KB bundle with
 * a 1 MB source map that transform took about a second per instance.
 */
const instances = path.join(tmpdir(), 'qualys-lake-bundles', 'node_modules');

/**
 * Loads a fresh instance of a built Lambda bundle (dist/functions/<name>/index.mjs) with `env`
 * applied first, as a new execution environment would. Bundles are built by `npm run build`.
 */
export async function loadHandler(name: FunctionName, env: Record<string, string>): Promise<Handler> {
  for (const key of Object.keys(process.env)) if (!(key in baseline)) delete process.env[key];
  Object.assign(process.env, baseline, env);
  mkdirSync(instances, { recursive: true });
  const instance = path.join(instances, `${name}-${process.pid}-${++generation}.mjs`);
  copyFileSync(path.join(distDir(name), 'index.mjs'), instance);
  try {
    return ((await import(pathToFileURL(instance).href)) as { handler: Handler }).handler;
  } finally {
    rmSync(instance, { force: true });
  }
}

/** A Lambda context with only what the handlers use: the remaining time. */
export function lambdaContext(remainingMs = 5 * 60_000) {
  const deadline = Date.now() + remainingMs;
  return {
    functionName: 'qualys-lake-local',
    awsRequestId: `local-${Date.now()}`,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
  };
}
