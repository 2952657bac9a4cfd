/**
 * The two things a collector needs from the outside world besides Qualys, as small interfaces.
 * `functions/aws/` implements them on S3 and SNS, one pair per invocation bound to its abort
 * signal (runtime/handler.ts), so every call stops with it; tests may implement them in memory.
 */

export interface PutOptions {
  contentType: string;
  /** Set when the body is already gzip-compressed. */
  contentEncoding?: 'gzip';
  metadata?: Record<string, string>;
}

/**
 * What {@link ObjectStore.put} writes: bytes, text, or parts that are the object back to back
 * (sent as they are, never joined into one buffer first: a large object need not be held twice).
 */
export type PutBody = Uint8Array | string | readonly Uint8Array[];

export interface ObjectStore {
  /** Writes (or overwrites) one object. */
  put(key: string, body: PutBody, options: PutOptions): Promise<void>;
  /** Reads one object's bytes as stored, or undefined when it does not exist. */
  get(key: string): Promise<Uint8Array | undefined>;
  exists(key: string): Promise<boolean>;
  /** Streams a body of unknown length to one object (multipart), never holding it whole. */
  upload(key: string, body: AsyncIterable<Uint8Array>, options: PutOptions): Promise<{ bytes: number }>;
  /** Keys under a prefix, in lexical order. */
  list(prefix: string): AsyncIterable<string>;
  /** Deletes objects (a missing key is no error); only under prefixes a manifest lists in `deletes`. */
  delete(keys: readonly string[]): Promise<void>;
  /**
   * The key in the bucket a key of this store is kept under, where the two differ (a subscription's
   * store adds its level, core/scoped-store.ts): what lineage fields and alerts show a user.
   * Read it with `keyInBucket(store, key)`.
   */
  keyInBucket?(key: string): string;
}

/** One alert: a plain-text email body, an AWS Chatbot custom notification and the attributes. */
export interface AlertMessage {
  subject: string;
  email: string;
  chat: ChatbotNotification;
  attributes: Record<string, string>;
  /**
   * Texts a line must keep whole when the message is cut to fit SNS (the S3 path, the Athena
   * query); not sent.
   */
  keep?: string[];
}

/** What SNS did with a set of messages that it did not simply accept. */
export interface PublishResult {
  /**
   * Messages refused for their content (sending them again would be refused again), by index into
   * the messages given to publish, with SNS's reason.
   */
  refused: ReadonlyMap<number, string>;
}

export interface AlertSink {
  /**
   * Publishes every message; the adapter batches them and sends the batches in parallel. Resolves
   * naming the messages SNS refused for their content. Throws {@link AlertPublishError} naming
   * what was accepted and refused before, when a batch failed otherwise (throttling, a 5xx, a
   * timeout, `signal`): those are worth sending again.
   */
  publish(messages: readonly AlertMessage[], signal?: AbortSignal): Promise<PublishResult>;
  /**
   * Called once a run holds something to publish, before it publishes: an adapter may load what
   * publishing needs now, while the run still waits on other calls. Never throws; a failure shows at
   * {@link publish}.
   */
  prepare?(): void;
}

export class AlertPublishError extends Error {
  override name = 'AlertPublishError';
  constructor(
    message: string,
    /** Indexes (into the messages given to publish) that were delivered before the failure. */
    readonly accepted: ReadonlySet<number>,
    /** Indexes refused for their content before the failure, with the reason. */
    readonly refused: ReadonlyMap<number, string> = new Map(),
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * AWS Chatbot (Amazon Q Developer in chat applications) custom notification, as documented in
 * "Custom notifications using Amazon SNS": the `default` body Chatbot renders in Slack.
 */
export interface ChatbotNotification {
  version: '1.0';
  source: 'custom';
  id?: string;
  content: {
    textType: 'client-markdown';
    title: string;
    description: string;
    nextSteps?: string[];
    keywords?: string[];
  };
  metadata?: {
    threadId?: string;
    summary?: string;
    eventType?: string;
    relatedResources?: string[];
    additionalContext?: Record<string, string>;
  };
}

export interface RunLogger {
  debug(message: string, extra?: Record<string, unknown>): void;
  info(message: string, extra?: Record<string, unknown>): void;
  warn(message: string, extra?: Record<string, unknown>): void;
  error(message: string, extra?: Record<string, unknown>): void;
}
