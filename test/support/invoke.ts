import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { FunctionName } from '../../functions/core/names';
import { distDir } from '../../lib/bundle';

export type Handler = (event: unknown, context: unknown) => Promise<unknown>;

let generation = 0;
/** The environment before any handler was loaded: each load starts from it, so settings never leak. */
const baseline = { ...process.env };

/**
 * Loads a fresh instance of a built Lambda bundle (dist/functions/<name>/index.mjs) with `env`
 * applied first, as a new execution environment would. Bundles are built by `npm run build`.
 */
export async function loadHandler(name: FunctionName, env: Record<string, string>): Promise<Handler> {
  for (const key of Object.keys(process.env)) if (!(key in baseline)) delete process.env[key];
  Object.assign(process.env, baseline, env);
  const file = pathToFileURL(path.join(distDir(name), 'index.mjs')).href;
  const module = (await import(`${file}?instance=${++generation}`)) as { handler: Handler };
  return module.handler;
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
