import { copyFileSync, linkSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
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
 * Where each instance is placed before it is imported. vitest imports a file under a `node_modules`
 * folder natively, as Node (and Lambda) would, instead of transforming it: for a 600 KB bundle with
 * a 1 MB source map that transform took about a second per instance. One folder per process,
 * removed when it exits.
 */
const instances = path.join(tmpdir(), 'qualys-lake-bundles', 'node_modules', String(process.pid));

/**
 * A fresh copy of a bundle's folder (index.mjs and the chunks it loads, some only later with
 * `await import()`), so its modules are new instances; hard links where the file system allows.
 */
function placeInstance(name: FunctionName): string {
  if (generation === 0) process.once('exit', () => rmSync(instances, { recursive: true, force: true }));
  const folder = path.join(instances, `${name}-${++generation}`);
  const source = distDir(name);
  for (const file of readdirSync(source, { recursive: true, encoding: 'utf8' })) {
    const from = path.join(source, file);
    if (!statSync(from).isFile()) continue;
    const to = path.join(folder, file);
    mkdirSync(path.dirname(to), { recursive: true });
    try {
      linkSync(from, to);
    } catch {
      copyFileSync(from, to);
    }
  }
  return path.join(folder, 'index.mjs');
}

/**
 * Loads a fresh instance of a built Lambda bundle (dist/functions/<name>/index.mjs) with `env`
 * applied first, as a new execution environment would. Bundles are built by `npm run build`.
 */
export async function loadHandler(name: FunctionName, env: Record<string, string>): Promise<Handler> {
  for (const key of Object.keys(process.env)) if (!(key in baseline)) delete process.env[key];
  Object.assign(process.env, baseline, env);
  const instance = placeInstance(name);
  return ((await import(pathToFileURL(instance).href)) as { handler: Handler }).handler;
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
