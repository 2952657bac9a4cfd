import { existsSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { QualysLakeStack } from '../../lib/qualys-lake-stack';
import { testApp } from '../support/infra';

// THE ONE TEST THAT BUNDLES FOR REAL (every other infra test skips bundling); a few seconds of esbuild.
describe('real bundling', () => {
  it('deploys the shared esbuild bundle of cdr-findings', () => {
    const app = testApp({ qualysSecretName: 'test/qualys' });
    const stack = new QualysLakeStack(app, 'QualysLake');
    const assembly = app.synth();

    const functions = Template.fromStack(stack).findResources('AWS::Lambda::Function');
    const s3Key = (Object.values(functions)[0] as { Properties: { Code: { S3Key: string } } }).Properties.Code
      .S3Key;
    const assetDir = path.join(assembly.directory, `asset.${s3Key.replace(/\.zip$/, '')}`);
    const bundle = path.join(assetDir, 'index.mjs');
    expect(statSync(bundle).size).toBeGreaterThan(1000);
    expect(existsSync(`${bundle}.map`)).toBe(true);
    const code = readFileSync(bundle, 'utf8');
    // Without a createRequire banner (lib/bundle.ts: nothing bundled calls require()).
    expect(code).not.toContain('createRequire');
    // The chunks index.mjs imports are deployed beside it (code splitting, lib/bundle.ts).
    const chunks = [...code.matchAll(/from\s*"(\.\/chunks\/[^"]+\.mjs)"/g)].map(
      (match) => match[1] as string,
    );
    expect(chunks.length).toBeGreaterThan(0);
    for (const chunk of chunks) expect(existsSync(path.join(assetDir, chunk)), chunk).toBe(true);
  }, 60_000);
});
