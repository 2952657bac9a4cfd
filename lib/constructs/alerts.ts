import { Aws, Stack } from 'aws-cdk-lib';
import * as chatbot from 'aws-cdk-lib/aws-chatbot';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';
import { ALERT_RANK_ATTRIBUTE, ALERT_SUBSCRIPTION_ATTRIBUTE } from '../../functions/core/names';
import { parseMinSeverity, SEVERITY_LEVELS } from '../../functions/core/severity';
import type { EmailSubscriptionOptions, SlackChannel } from '../config';

export type { EmailSubscriptionOptions } from '../config';

/** Who hears about alerts. */
export interface AlertTopicOptions {
  /**
   * Email addresses subscribed to the topic; each must confirm the subscription mail.
   * @default no email subscriptions
   */
  readonly emails?: readonly string[];
  /**
   * Email addresses that each choose a minimum severity (see {@link EmailSubscriptionOptions}).
   * @default none
   */
  readonly emailSubscriptions?: readonly EmailSubscriptionOptions[];
  /**
   * Slack channel AWS Chatbot posts the topic's messages to. The workspace must first be authorised
   * once in the AWS Chatbot console.
   * @default no Chatbot configuration
   */
  readonly slack?: SlackChannel;
}

export interface AlertTopicProps extends AlertTopicOptions {
  /**
   * Name of the Chatbot channel configuration (unique in the account).
   * @default `<stack name>-alerts`
   */
  readonly slackChannelConfigurationName?: string;
}

/**
 * The SNS topic that collector alerts and CloudWatch alarms go to, encrypted with its own
 * customer-managed key, fanned out to email and (through AWS Chatbot) Slack.
 */
export class AlertTopic extends Construct {
  readonly topic: sns.Topic;
  readonly key: kms.Key;
  readonly slackChannel?: chatbot.SlackChannelConfiguration;

  constructor(scope: Construct, id: string, props: AlertTopicProps = {}) {
    super(scope, id);

    this.key = new kms.Key(this, 'Key', {
      description: 'Encrypts the qualys-lake alert topic',
      enableKeyRotation: true,
    });
    this.topic = new sns.Topic(this, 'Topic', {
      displayName: 'Qualys Lake alerts',
      masterKey: this.key,
      enforceSSL: true,
    });

    // CloudWatch alarms publish as the cloudwatch.amazonaws.com service, which needs both the topic
    // and the key; scoped to alarms of this account and Region (confused deputy).
    // https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services
    const alarmsOfThisAccount = {
      StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID },
      ArnLike: { 'aws:SourceArn': `arn:${Aws.PARTITION}:cloudwatch:${Aws.REGION}:${Aws.ACCOUNT_ID}:alarm:*` },
    };
    this.topic.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'CloudWatchAlarmsPublish',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['sns:Publish'],
        resources: [this.topic.topicArn],
        conditions: alarmsOfThisAccount,
      }),
    );
    this.key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'CloudWatchAlarmsUseKey',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
        conditions: alarmsOfThisAccount,
      }),
    );

    for (const email of props.emails ?? []) {
      this.topic.addSubscription(new subscriptions.EmailSubscription(email));
    }
    for (const { address, minSeverity, subscriptions: only } of props.emailSubscriptions ?? []) {
      if (props.emails?.includes(address)) {
        throw new Error(`Alert email ${address} is listed in both emails and emailSubscriptions; keep one`);
      }
      const rank = minimumRank(address, minSeverity);
      const filterPolicy: Record<string, sns.SubscriptionFilter> = {
        ...(only === undefined
          ? {}
          : {
              [ALERT_SUBSCRIPTION_ATTRIBUTE]: sns.SubscriptionFilter.stringFilter({ allowlist: [...only] }),
            }),
        ...(rank === undefined
          ? {}
          : {
              [ALERT_RANK_ATTRIBUTE]: sns.SubscriptionFilter.numericFilter({ greaterThanOrEqualTo: rank }),
            }),
      };
      this.topic.addSubscription(
        new subscriptions.EmailSubscription(address, {
          ...(Object.keys(filterPolicy).length > 0 ? { filterPolicy } : {}),
        }),
      );
    }

    if (props.slack) {
      this.key.addToResourcePolicy(
        new iam.PolicyStatement({
          sid: 'ChatbotUseKey',
          principals: [new iam.ServicePrincipal('chatbot.amazonaws.com')],
          actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
          resources: ['*'],
          conditions: { StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID } },
        }),
      );
      this.slackChannel = new chatbot.SlackChannelConfiguration(this, 'Slack', {
        slackChannelConfigurationName:
          props.slackChannelConfigurationName ?? `${Stack.of(this).stackName}-alerts`,
        slackWorkspaceId: props.slack.workspaceId,
        slackChannelId: props.slack.channelId,
        notificationTopics: [this.topic],
        // Notification only: the channel role has no policies, and the guardrail denies everything,
        // so nobody can run AWS commands from Slack through this configuration.
        guardrailPolicies: [iam.ManagedPolicy.fromAwsManagedPolicyName('AWSDenyAll')],
      });
    }
  }

  get topicArn(): string {
    return this.topic.topicArn;
  }

  /**
   * Lets `grantee` publish to the topic: `sns:Publish` on it and the two key actions SNS performs for
   * the publisher, only through SNS.
   */
  grantPublish(grantee: iam.IGrantable): void {
    iam.Grant.addToPrincipal({ grantee, actions: ['sns:Publish'], resourceArns: [this.topic.topicArn] });
    iam.Grant.addToPrincipal({
      grantee,
      actions: ['kms:GenerateDataKey', 'kms:Decrypt'],
      resourceArns: [this.key.keyArn],
      conditions: { StringEquals: { 'kms:ViaService': `sns.${Aws.REGION}.${Aws.URL_SUFFIX}` } },
    });
  }
}

/** The rank a subscription's minimum stands for (undefined: no minimum), or an error naming the address. */
function minimumRank(address: string, minSeverity: string | number | undefined): number | undefined {
  if (minSeverity === undefined) return undefined;
  const rank = parseMinSeverity(String(minSeverity));
  if (rank === undefined || rank < 1 || rank > SEVERITY_LEVELS.CRITICAL) {
    throw new Error(
      `Alert email ${address}: minSeverity must be ${Object.keys(SEVERITY_LEVELS).join(', ')} or 1 to 4, got ${JSON.stringify(minSeverity)}`,
    );
  }
  return rank;
}
