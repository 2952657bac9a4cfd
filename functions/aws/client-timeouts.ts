/**
 * Timeouts of every SDK client (the SDK's own default is to wait forever): a connection must open
 * within CONNECTION_TIMEOUT_MS and a response must start within the request timeout, else the SDK's
 * retries take over. `throwOnRequestTimeout` makes the request timeout an error; without it
 * @smithy/node-http-handler only logs a warning.
 */
export const CONNECTION_TIMEOUT_MS = 3_000;

export const requestHandlerTimeouts = (requestTimeout: number) => ({
  connectionTimeout: CONNECTION_TIMEOUT_MS,
  requestTimeout,
  throwOnRequestTimeout: true,
});

/**
 * What every SDK client of the functions is built with: the timeouts above, and its middleware
 * stack resolved once per command class instead of on every `send` (`cacheMiddleware`; nothing in
 * the functions adds middleware after a client is built). The SDK caches only for a `send` without
 * options: the call-budget ledger's, SNS's and Secrets Manager's; the archive's requests carry the
 * invocation's abort signal, so theirs is resolved each time. Resolving it cost about a quarter of
 * the SDK's CPU a request, measured on S3 PUTs (README "Benchmarks").
 */
export const clientDefaults = (requestTimeout: number) => ({
  requestHandler: requestHandlerTimeouts(requestTimeout),
  cacheMiddleware: true,
});
