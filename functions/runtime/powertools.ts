import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { RunLogger } from '../core/ports';

/** Powertools singletons, one per execution environment. Service and namespace come from env. */
export const logger = new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'qualys-lake' });
export const metrics = new Metrics({
  namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? 'QualysLake',
  serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'qualys-lake',
});

/** The Powertools logger behind the small logging interface the core and client use. */
export const runLogger: RunLogger = {
  debug: (message, extra) => (extra ? logger.debug(message, extra) : logger.debug(message)),
  info: (message, extra) => (extra ? logger.info(message, extra) : logger.info(message)),
  warn: (message, extra) => (extra ? logger.warn(message, extra) : logger.warn(message)),
  error: (message, extra) => (extra ? logger.error(message, extra) : logger.error(message)),
};
