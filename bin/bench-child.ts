/**
 * The measured process of `npm run bench`, one per scenario run, as a Lambda execution
 * environment would be: it loads one built bundle and invokes it when told, reporting wall and CPU
 * time per invocation and, at the end, its peak RSS as the OS counts it and its peak heap.
 * Also the CPU floor, in a process of the same kind (bench-floor.ts).
 *
 * bench.ts compiles this file with esbuild and runs it with plain `node` (no tsx: tsx's loader
 * alone adds about 85 MiB of RSS to a process that imports a bundle).
 */
import { readFileSync } from 'node:fs';
import { getHeapStatistics } from 'node:v8';
import { floor } from './bench-floor';
import { serve } from './bench-process';

type Handler = (event: unknown, context: unknown) => Promise<unknown>;

const MiB = 1024 * 1024;
const realNow = Date.now;
/** Moved by `invoke({ at })`: the clock then starts at `at` and runs in real time. */
let clockOffset = 0;
Date.now = () => realNow() + clockOffset;

let handler: Handler | undefined;
const memory = { rssAtStartMiB: 0, rssLoadedMiB: 0, peakHeapUsedMiB: 0 };
let sampler: NodeJS.Timeout | undefined;

function sampleHeap() {
  memory.peakHeapUsedMiB = Math.max(memory.peakHeapUsedMiB, getHeapStatistics().used_heap_size / MiB);
}

export interface Invocation {
  summary?: Record<string, unknown>;
  error?: string;
  wallMs: number;
  cpuMs: number;
}

export interface ChildMemory {
  /** RSS before the bundle was imported: Node alone. */
  rssAtStartMiB: number;
  /** RSS once the bundle was imported, before its first invocation. */
  rssLoadedMiB: number;
  /** Peak RSS of the process as the OS counts it (VmHWM). */
  peakRssMiB: number;
  /** Largest V8 heap in use, sampled every 100 ms and after each invocation (no forced GC). */
  peakHeapUsedMiB: number;
}

/**
 * VmHWM, the high-water mark of this process's memory map. Not getrusage's maxRSS: Linux carries
 * that over from the parent's image across fork and exec, so a child of a 200 MiB parent reports
 * at least 200 MiB whatever it does.
 */
function peakRssMiB(): number {
  try {
    const hwm = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'));
    if (hwm?.[1]) return Number(hwm[1]) / 1024;
  } catch {
    // Not Linux: getrusage is the best there is.
  }
  return process.resourceUsage().maxRSS / 1024;
}

serve({
  /** Applies `env` as a fresh execution environment would, then imports the bundle. */
  async load({ bundle, env }: { bundle: string; env: Record<string, string> }) {
    memory.rssAtStartMiB = process.memoryUsage.rss() / MiB;
    Object.assign(process.env, env);
    handler = ((await import(bundle)) as { handler: Handler }).handler;
    memory.rssLoadedMiB = process.memoryUsage.rss() / MiB;
    sampler = setInterval(sampleHeap, 100);
    sampler.unref();
  },

  async invoke({
    event,
    at,
    remainingMs,
  }: {
    event: unknown;
    at?: number;
    remainingMs: number;
  }): Promise<Invocation> {
    if (!handler) throw new Error('load a bundle first');
    if (at !== undefined) clockOffset = at - realNow();
    const deadline = Date.now() + remainingMs;
    const context = {
      functionName: 'qualys-lake-bench',
      awsRequestId: `bench-${Date.now()}`,
      getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    };
    const cpu = process.cpuUsage();
    const started = performance.now();
    let summary: unknown;
    let error: string | undefined;
    try {
      summary = await handler(event, context);
    } catch (failure) {
      error = failure instanceof Error ? `${failure.name}: ${failure.message}` : String(failure);
      summary = (failure as { summary?: unknown }).summary;
    }
    const wallMs = performance.now() - started;
    const used = process.cpuUsage(cpu);
    sampleHeap();
    return {
      summary: summary && typeof summary === 'object' ? JSON.parse(JSON.stringify(summary)) : undefined,
      error,
      wallMs,
      cpuMs: (used.user + used.system) / 1000,
    };
  },

  memory(): ChildMemory {
    sampleHeap();
    return { ...memory, peakRssMiB: peakRssMiB() };
  },

  floor,
});
