#!/usr/bin/env node
// `npx qualys-lake <verb>`: the operator's command. It runs the TypeScript sources as they are
// (tsx, installed by `npm ci`), so a fresh clone needs no build step.
import { tsImport } from 'tsx/esm/api';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const { main } = await tsImport('./cli/main.ts', import.meta.url);
process.exitCode = await main(process.argv);
