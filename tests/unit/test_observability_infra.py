"""The template's visibility: alarms on every dead-letter queue and the 5xx rate, access logs,
the powertools layer, the runs table where runs are written."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

PROJECT_DIR = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    from chalice.package import YAMLTemplateSerializer

    path = PROJECT_DIR / "infra" / "template.yml"
    return YAMLTemplateSerializer().load_template(path.read_text(), str(path))


def _resources(template: dict[str, Any], kind: str) -> dict[str, Any]:
    return {name: r for name, r in template["Resources"].items() if r["Type"] == kind}


def test_every_dead_letter_queue_has_a_depth_alarm(template: dict[str, Any]) -> None:
    dlqs = {r["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
            for r in _resources(template, "AWS::SQS::Queue").values()
            if "RedrivePolicy" in r["Properties"]}
    watched = set()
    for alarm in _resources(template, "AWS::CloudWatch::Alarm").values():
        props = alarm["Properties"]
        if props["MetricName"] == "ApproximateNumberOfMessagesVisible":
            watched.add(props["Dimensions"][0]["Value"]["Fn::GetAtt"][0])
            assert props["Threshold"] == 0 and props["ComparisonOperator"] == "GreaterThanThreshold"
    assert dlqs and watched == dlqs


def test_api_5xx_rate_alarm_notifies_the_optional_topic(template: dict[str, Any]) -> None:
    [alarm] = [a["Properties"] for a in _resources(template, "AWS::CloudWatch::Alarm").values()
               if a["Properties"]["MetricName"] == "5XXError"]
    assert alarm["Namespace"] == "AWS/ApiGateway" and alarm["Statistic"] == "Average"
    assert alarm["AlarmActions"] == {"Fn::If": ["HasAlarmTopic", [{"Ref": "AlarmTopicArn"}],
                                                {"Ref": "AWS::NoValue"}]}
    assert template["Parameters"]["AlarmTopicArn"]["Default"] == ""


def test_api_access_logs_carry_the_route_pattern_never_the_query(template: dict[str, Any]) -> None:
    setting = template["Resources"]["RestAPI"]["Properties"]["AccessLogSetting"]
    assert setting["DestinationArn"] == {"Fn::GetAtt": ["ApiAccessLogGroup", "Arn"]}
    fields = json.loads(setting["Format"])
    assert fields["route"] == "$context.resourcePath" and fields["request_id"]
    assert "querystring" not in setting["Format"].lower()


def test_functions_get_the_powertools_layer_and_the_runs_settings(template: dict[str, Any]) -> None:
    layers = json.dumps(template["Globals"]["Function"]["Layers"])
    assert "AWSLambdaPowertoolsPythonV3-python312-x86_64" in layers
    assert "powertools" not in (PROJECT_DIR / "requirements.txt").read_text().lower()
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["TASKPORT_RUNS_TABLE"] == {"Ref": "RunsTable"}
    assert variables["TASKPORT_RUN_RETENTION_DAYS"] == {"Ref": "RunRetentionDays"}
    assert template["Parameters"]["RunRetentionDays"]["Default"] == 7


@pytest.mark.parametrize("role, writes", [("ApiHandlerRole", True), ("TaskWorkerRole", True),
                                          ("WebhookSenderRole", False), ("JanitorRole", False),
                                          ("SandboxRole", False)])
def test_only_the_functions_that_run_code_may_write_runs(template: dict[str, Any], role: str,
                                                         writes: bool) -> None:
    statements = template["Resources"][role]["Properties"]["Policies"][0]["PolicyDocument"][
        "Statement"]
    granted = [s for s in statements if "RunsTable" in json.dumps(s["Resource"])]
    assert bool(granted) == writes
    for statement in granted:
        assert "dynamodb:PutItem" in statement["Action"]
