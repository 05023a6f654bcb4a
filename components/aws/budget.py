"""The fleet's AWS budget: AWS Budgets (daily and/or monthly) and Cost Anomaly Detection for spikes.

AWS Budgets has a DAILY period, so the stack's daily budget stays daily there; daily budgets only take ACTUAL
notifications (FORECASTED is refused for DAILY), monthly ones get both. Anomaly detection reports spikes the fixed
thresholds miss: an IMMEDIATE subscription publishes to an SNS topic (IMMEDIATE takes SNS subscribers only),
which forwards to the stack's e-mail addresses (each must confirm its subscription) and, with `budgets.aws.slack`,
to the on-call's Slack channel, as the budget alerts do. Its threshold is the cost-spike alert's factor, and with
that alert switched off there is none. The topic is encrypted with its own KMS key (checkov CKV_AWS_26), whose
policy lets Cost Anomaly Detection and AWS Budgets publish to it. Budgets and Cost Explorer are global services
billed in us-east-1, so the component takes a provider pinned there.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components.config.budgets import SlackChannel
from components.kubernetes.conventions import LABEL_CLUSTER

ANOMALY_SERVICE = "costalerts.amazonaws.com"
"""The principal Cost Anomaly Detection publishes to SNS as (its topic policy must allow it): "Creating an Amazon SNS
topic for anomaly notifications", docs.aws.amazon.com/cost-management/latest/userguide/ad-SNS.html."""
BUDGETS_SERVICE = "budgets.amazonaws.com"
"""The principal AWS Budgets publishes to SNS as: "Creating an Amazon SNS topic for budget notifications",
docs.aws.amazon.com/cost-management/latest/userguide/budgets-sns-policy.html."""
TOPIC_PUBLISHERS = (ANOMALY_SERVICE, BUDGETS_SERVICE)
CHATBOT_SERVICE = "chatbot.amazonaws.com"
"""Amazon Q Developer in chat applications (formerly AWS Chatbot) assumes channel roles as this principal."""
READ_ONLY_POLICY = "arn:aws:iam::aws:policy/ReadOnlyAccess"
TIME_UNITS = {"daily": "DAILY", "monthly": "MONTHLY"}


@dataclass(frozen=True)
class AwsBudgetArgs:
    amounts: dict[str, float]
    """AWS's part of the fleet's budget per period (`daily`, `monthly`)."""
    thresholds: list[float]
    """Shares of the budget that notify (0.7 is 70%)."""
    emails: list[str]
    anomaly_impact_percent: float | None
    """Report anomalies whose impact is at least this percentage of the expected spend; None: no anomaly alerts."""
    anomaly_monitor_arn: str | None
    """An existing monitor to subscribe to; None creates a customer-managed monitor on `monitor_clusters`."""
    environment: str
    tags: dict[str, str]
    provider: aws.Provider
    """A provider in us-east-1, where Budgets and Cost Explorer live."""
    monitor_clusters: list[str] = field(default_factory=list)
    """The EKS clusters' names, the values of the `gpu-fleet/cluster` tag their GPU nodes carry (Karpenter
    EC2NodeClass tags), which the created anomaly monitor watches."""
    slack: SlackChannel | None = None
    """A Slack channel (Amazon Q Developer in chat applications) budget and anomaly alerts also go to."""
    partition: str = "aws"
    """`aws`, `aws-cn` or `aws-us-gov`, for the ARNs the key and topic policies name."""


def notifications(period: str, thresholds: list[float], emails: list[str],
                  topic: pulumi.Input[str] | None = None) -> list[aws.budgets.BudgetNotificationArgs]:
    """Budget notifications: ACTUAL at every threshold, FORECASTED too except on a daily budget.

    Each goes to the e-mail addresses and, when the stack posts budget alerts to chat, to that SNS topic.
    """
    kinds = ["ACTUAL"] if period == "daily" else ["ACTUAL", "FORECASTED"]
    return [aws.budgets.BudgetNotificationArgs(
        comparison_operator="GREATER_THAN", notification_type=kind, threshold=round(t * 100, 2),
        threshold_type="PERCENTAGE", subscriber_email_addresses=list(emails),
        subscriber_sns_topic_arns=[topic] if topic is not None else None) for kind in kinds for t in thresholds]


class AwsBudget(pulumi.ComponentResource):
    topic_arn: pulumi.Output[str] | None
    budget_names: dict[str, pulumi.Output[str]]

    def __init__(self, name: str, args: AwsBudgetArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("gpufleet:aws:Budget", name, None, opts)
        child = pulumi.ResourceOptions(parent=self, provider=args.provider)
        budget_topic = self._budget_topic(name, args, child) if args.slack is not None else None
        self.budget_names = {}
        for period, amount in sorted(args.amounts.items()):
            budget = aws.budgets.Budget(
                f"{name}-{period}",
                name=f"gpu-fleet-{args.environment}-{period}",
                budget_type="COST",
                time_unit=TIME_UNITS[period],
                limit_amount=f"{amount:.2f}",
                limit_unit="USD",
                notifications=notifications(period, args.thresholds, args.emails, budget_topic),
                tags=args.tags,
                opts=child,
            )
            self.budget_names[period] = budget.name

        self.topic_arn = (None if args.anomaly_impact_percent is None
                          else self._anomalies(name, args, args.anomaly_impact_percent, child))
        if args.slack is not None:
            topics = [t for t in (budget_topic, self.topic_arn) if t is not None]
            self._chat(name, args, args.slack, topics, child)
        self.register_outputs({"topic_arn": self.topic_arn, "budget_names": self.budget_names})

    @staticmethod
    def _encrypted_topic(name: str, role: str, topic: str, what: str, args: AwsBudgetArgs,
                         child: pulumi.ResourceOptions) -> tuple[aws.sns.Topic, pulumi.Output[str]]:
        """An SNS topic encrypted with its own key (checkov CKV_AWS_26), and the account id its policies name.

        The key's policy lets Budgets and Cost Anomaly Detection use it to publish (`topic_key_policy`).
        """
        account = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(provider=args.provider)).account_id
        key = aws.kms.Key(f"{name}-{role}-key", description=f"gpu-fleet {args.environment} {what}",
                          enable_key_rotation=True, deletion_window_in_days=30, tags=args.tags, opts=child,
                          policy=account.apply(lambda a: topic_key_policy(partition=args.partition, account=a)))
        return aws.sns.Topic(f"{name}-{role}", name=f"gpu-fleet-{args.environment}-{topic}",
                             kms_master_key_id=key.arn, tags=args.tags, opts=child), account

    @staticmethod
    def _budget_topic(name: str, args: AwsBudgetArgs, child: pulumi.ResourceOptions) -> pulumi.Output[str]:
        """The SNS topic AWS Budgets publishes the budget alerts to, for chat (e-mail recipients get them directly).

        Its policy lets only Budgets publish, for this account's budgets (AWS Cost Management user guide,
        "Creating an Amazon SNS topic for budget notifications": principal `budgets.amazonaws.com` with the
        `aws:SourceAccount` / `aws:SourceArn` conditions).
        """
        topic, account = AwsBudget._encrypted_topic(name, "alerts", "budget-alerts", "budget alert topic", args, child)
        aws.sns.TopicPolicy(
            f"{name}-alerts-policy",
            arn=topic.arn,
            policy=pulumi.Output.all(topic.arn, account).apply(lambda a: json.dumps({
                "Version": "2012-10-17",
                "Statement": [{"Sid": "AwsBudgets", "Effect": "Allow", "Principal": {"Service": BUDGETS_SERVICE},
                               "Action": "SNS:Publish", "Resource": a[0],
                               "Condition": {"StringEquals": {"aws:SourceAccount": a[1]},
                                             "ArnLike": {"aws:SourceArn": f"arn:{args.partition}:budgets::{a[1]}:*"}}}],
            })),
            opts=child,
        )
        return topic.arn

    @staticmethod
    def _chat(name: str, args: AwsBudgetArgs, slack: SlackChannel, topics: list[pulumi.Output[str]],
              child: pulumi.ResourceOptions) -> None:
        """The Slack channel configuration that posts what the budget and anomaly topics receive.

        The channel role may only read CloudWatch (what notifications render), and the guardrail caps anyone in the
        channel at read-only: the service's default guardrail is AdministratorAccess.
        """
        role = aws.iam.Role(
            f"{name}-chat",
            assume_role_policy=json.dumps({"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"Service": CHATBOT_SERVICE}, "Action": "sts:AssumeRole"}]}),
            inline_policies=[{"name": "notifications-only", "policy": json.dumps({
                "Version": "2012-10-17", "Statement": [{
                    "Effect": "Allow", "Resource": "*",
                    "Action": ["cloudwatch:Describe*", "cloudwatch:Get*", "cloudwatch:List*"]}]})}],
            tags=args.tags, opts=child)
        aws.chatbot.SlackChannelConfiguration(
            f"{name}-slack",
            configuration_name=f"gpu-fleet-{args.environment}-budgets",
            iam_role_arn=role.arn,
            slack_team_id=slack.workspace_id,
            slack_channel_id=slack.channel_id,
            sns_topic_arns=topics,
            guardrail_policy_arns=[READ_ONLY_POLICY],
            logging_level="ERROR",
            tags=args.tags,
            opts=child,
        )

    @staticmethod
    def _monitor(name: str, args: AwsBudgetArgs, child: pulumi.ResourceOptions) -> pulumi.Input[str]:
        """The anomaly monitor to subscribe to: the stack's existing one, or a customer-managed one on its tag.

        An account holds a single AWS-services (DIMENSIONAL SERVICE) monitor and many accounts already have it, so
        creating one failed `pulumi up` there; a CUSTOM monitor on a cost-allocation tag has no such limit, and sees
        the GPU nodes alone (AWS Billing and Cost Management API, `AnomalyMonitor.MonitorSpecification`).
        """
        if args.anomaly_monitor_arn is not None:
            return args.anomaly_monitor_arn
        spec = {"Tags": {"Key": LABEL_CLUSTER, "Values": sorted(set(args.monitor_clusters)),
                         "MatchOptions": ["EQUALS"]}}
        return aws.costexplorer.AnomalyMonitor(
            f"{name}-services", name=f"gpu-fleet-{args.environment}-gpu-nodes", monitor_type="CUSTOM",
            monitor_specification=json.dumps(spec, sort_keys=True), tags=args.tags, opts=child).arn

    @staticmethod
    def _anomalies(name: str, args: AwsBudgetArgs, impact_percent: float,
                   child: pulumi.ResourceOptions) -> pulumi.Output[str]:
        """The SNS topic (and its e-mail subscriptions) anomaly alerts go to, and the IMMEDIATE subscription."""
        topic, account = AwsBudget._encrypted_topic(name, "anomalies", "cost-anomalies", "cost alert topic", args,
                                                    child)
        policy = aws.sns.TopicPolicy(
            f"{name}-anomalies-policy",
            arn=topic.arn,
            policy=pulumi.Output.all(topic.arn, account).apply(
                lambda a: topic_policy(partition=args.partition, topic_arn=a[0], account=a[1])),
            opts=child,
        )
        for email in args.emails:
            aws.sns.TopicSubscription(f"{name}-anomalies-{_slug(email)}", topic=topic.arn, protocol="email",
                                      endpoint=email, opts=child)
        monitor_arn = AwsBudget._monitor(name, args, child)
        aws.costexplorer.AnomalySubscription(
            f"{name}-spikes",
            name=f"gpu-fleet-{args.environment}-spikes",
            frequency="IMMEDIATE",
            monitor_arn_lists=[monitor_arn],
            subscribers=[{"type": "SNS", "address": topic.arn}],
            threshold_expression={"dimension": {"key": "ANOMALY_TOTAL_IMPACT_PERCENTAGE",
                                                "match_options": ["GREATER_THAN_OR_EQUAL"],
                                                "values": [f"{impact_percent:g}"]}},
            tags=args.tags,
            opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[policy])),
        )
        return topic.arn


def topic_key_policy(*, partition: str, account: str) -> str:
    """The cost alert topic's key policy: the account administers the key; the publishing services may use it.

    An encrypted topic takes messages only from publishers that may use its key: "Enable compatibility between event
    sources from AWS services and encrypted topics" (docs.aws.amazon.com/sns/latest/dg/sns-key-management.html) gives
    each service `kms:GenerateDataKey*` and `kms:Decrypt`. `aws:SourceAccount` keeps other accounts' anomaly and
    budget alerts out. The account statement is KMS's default key policy (key-policy-default.html).
    """
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "AccountAdministers", "Effect": "Allow", "Principal": {"AWS": f"arn:{partition}:iam::{account}:root"},
         "Action": "kms:*", "Resource": "*"},
        {"Sid": "CostAlertsPublish", "Effect": "Allow", "Principal": {"Service": list(TOPIC_PUBLISHERS)},
         "Action": ["kms:GenerateDataKey*", "kms:Decrypt"], "Resource": "*",
         "Condition": {"StringEquals": {"aws:SourceAccount": account}}},
    ]})


def topic_policy(*, partition: str, topic_arn: str, account: str) -> str:
    """Who may publish to the cost alert topic: Cost Anomaly Detection and AWS Budgets, for this account only.

    Budgets' statement also names its own ARNs (`aws:SourceArn` arn:<partition>:budgets::<account>:*), as its page
    shows; Cost Anomaly Detection's page conditions on the account alone.
    """
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "CostAnomalyDetection", "Effect": "Allow", "Principal": {"Service": ANOMALY_SERVICE},
         "Action": "SNS:Publish", "Resource": topic_arn, "Condition": {"StringEquals": {"aws:SourceAccount": account}}},
        {"Sid": "AwsBudgets", "Effect": "Allow", "Principal": {"Service": BUDGETS_SERVICE}, "Action": "SNS:Publish",
         "Resource": topic_arn, "Condition": {"StringEquals": {"aws:SourceAccount": account},
                                              "ArnLike": {"aws:SourceArn": f"arn:{partition}:budgets::{account}:*"}}},
    ]})


def _slug(email: str) -> str:
    return "".join(ch if ch.isalnum() else "-" for ch in email.lower()).strip("-")
