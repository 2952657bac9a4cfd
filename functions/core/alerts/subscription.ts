import { ALERT_SUBSCRIPTION_ATTRIBUTE } from '../names';
import type { AlertMessage, AlertSink } from '../ports';

/**
 * Every alert and digest of a subscription's function says which subscription it is about: the
 * `subscription` message attribute (what an SNS filter policy routes one customer's alerts by) and
 * one line in the email and the chat text. Added as the messages leave for SNS, after they were cut
 * to fit (the line is a few dozen bytes; ALERT_MAX_BYTES leaves 16 KiB below SNS's limit).
 */
export function subscriptionLine(subscription: string): string {
  return `Qualys subscription: ${subscription}`;
}

/** The message with its subscription named (attribute, first email line, first chat line). */
export function withSubscription(message: AlertMessage, subscription: string): AlertMessage {
  const { chat } = message;
  return {
    ...message,
    email: `${subscriptionLine(subscription)}\n\n${message.email}`,
    chat: {
      ...chat,
      content: {
        ...chat.content,
        description: `*Qualys subscription:* ${subscription}\n${chat.content.description}`,
      },
      metadata: {
        ...chat.metadata,
        additionalContext: { ...chat.metadata?.additionalContext, subscription },
      },
    },
    attributes: { ...message.attributes, [ALERT_SUBSCRIPTION_ATTRIBUTE]: subscription },
  };
}

/** An alert sink that names `subscription` on every message it passes to `sink`. */
export function subscriptionAlerts(sink: AlertSink, subscription: string): AlertSink {
  return {
    publish: (messages, signal) =>
      sink.publish(
        messages.map((message) => withSubscription(message, subscription)),
        signal,
      ),
    prepare: () => sink.prepare?.(),
  };
}
