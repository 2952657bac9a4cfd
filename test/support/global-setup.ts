import { existsSync } from 'node:fs';
import * as path from 'node:path';
import type { TestProject } from 'vitest/node';
import { BUNDLE_NAMES } from '../../functions/core/names';
import { bundleFunction, PROJECT_ROOT } from '../../lib/bundle';
import { startFauxqs } from './local-aws';

declare module 'vitest' {
  export interface ProvidedContext {
    fauxqsEndpoint: string;
  }
}

/**
 * Once per test run: bundles every Lambda exactly as `npm run build` does (integration tests run
 * the bundles, not the sources) and starts one fauxqs on 127.0.0.1 for all test files.
 */
export default async function setup(project: TestProject) {
  for (const name of BUNDLE_NAMES) {
    if (existsSync(path.join(PROJECT_ROOT, 'functions', name, 'index.ts'))) bundleFunction(name);
  }
  const fauxqs = await startFauxqs();
  project.provide('fauxqsEndpoint', fauxqs.endpoint);
  return async () => {
    await fauxqs.close();
  };
}
