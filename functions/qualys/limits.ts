import type { HttpHeaders } from './http';

/**
 * Qualys limits are per subscription: calls per window (default 300 per 3,600 s) and concurrent
 * calls (default 2), announced on every counted response in X-RateLimit-* and
 * X-Concurrency-Limit-* headers (Qualys API limits documentation).
 */
export interface RateLimitSnapshot {
  limit?: number;
  windowSec?: number;
  remaining?: number;
  toWaitSec?: number;
  concurrencyLimit?: number;
  concurrencyRunning?: number;
}

function headerNumber(headers: HttpHeaders, name: string): number | undefined {
  const text = headers.get(name);
  if (text === null || text.trim() === '') return undefined;
  const value = Number(text);
  return Number.isFinite(value) ? value : undefined;
}

export function readRateLimitHeaders(headers: HttpHeaders): RateLimitSnapshot {
  return {
    limit: headerNumber(headers, 'x-ratelimit-limit'),
    windowSec: headerNumber(headers, 'x-ratelimit-window-sec'),
    remaining: headerNumber(headers, 'x-ratelimit-remaining'),
    toWaitSec: headerNumber(headers, 'x-ratelimit-towait-sec'),
    concurrencyLimit: headerNumber(headers, 'x-concurrency-limit-limit'),
    concurrencyRunning: headerNumber(headers, 'x-concurrency-limit-running'),
  };
}
