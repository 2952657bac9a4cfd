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
