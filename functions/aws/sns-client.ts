import { SNSClient } from '@aws-sdk/client-sns';
import { requestHandlerTimeouts } from './client-timeouts';

/** SNS: a PublishBatch of ten messages normally answers in well under a second. */
export const SNS_REQUEST_TIMEOUT_MS = 5_000;

/**
 * The SNS client, built once per execution environment with the SDK's default configuration, so
 * AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_SNS can point it at an emulator. Only collectors that publish
 * alerts bundle this module (through `snsAlertsOnDemand`), and load it at their first publish.
 */
export const sns = new SNSClient({ requestHandler: requestHandlerTimeouts(SNS_REQUEST_TIMEOUT_MS) });
