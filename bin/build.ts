import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { BUNDLE_NAMES } from '../functions/core/names';
import { bundleFunction, distDir, PROJECT_ROOT } from '../lib/bundle';

// Builds one ESM bundle per Lambda that has a handler in functions/<name>/index.ts.
const built: string[] = [];
// The Security Lake writer is bundled like the collectors (lib/bundle.ts types the collectors' names).
for (const name of BUNDLE_NAMES) {
  if (!existsSync(path.join(PROJECT_ROOT, 'functions', name, 'index.ts'))) continue;
  bundleFunction(name);
  built.push(path.relative(PROJECT_ROOT, path.join(distDir(name), 'index.mjs')));
}
console.log(`built ${built.length} bundle(s): ${built.join(', ')}`);
