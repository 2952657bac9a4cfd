import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';

/** STYLE: one concern per file, and no Lambda runtime file over 400 lines; and what they may not call. */
const MAX_LINES = 400;
const ROOT = path.join(__dirname, '..', '..', 'functions');

function runtimeFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return runtimeFiles(full);
    return entry.name.endsWith('.ts') ? [full] : [];
  });
}

describe('runtime files', () => {
  it(`are each at most ${MAX_LINES} lines`, () => {
    const files = runtimeFiles(ROOT);
    expect(files.length).toBeGreaterThan(50);
    const long = files
      .map((file) => ({
        file: path.relative(ROOT, file),
        lines: readFileSync(file, 'utf8').split('\n').length - 1,
      }))
      .filter(({ lines }) => lines > MAX_LINES);
    expect(long).toEqual([]);
  });

  it('never call the global fetch: Node loads undici for it in every cold start (functions/qualys/http.ts)', () => {
    const calls = runtimeFiles(ROOT)
      .filter((file) =>
        /(?<![.\w])fetch\s*\((?![^)]*\)\s*:)|globalThis\.fetch|\bnew (Response|Headers|Request)\(/.test(
          readFileSync(file, 'utf8'),
        ),
      )
      .map((file) => path.relative(ROOT, file));
    expect(calls).toEqual([]);
  });
});
