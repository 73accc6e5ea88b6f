"""Tests of controller/core/state_machine.py: lint the generated ASL and check its flow."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from statelint.linter import Linter

from controller.core.state_machine import (
    LAMBDA_TRANSIENT_ERRORS,
    TASK_RESULT_KEYS,
    TRANSIENT_ERROR,
    Outcome,
    RetryPolicy,
    build_definition,
)

FUNCTION_ARN = "arn:aws:lambda:ap-northeast-1:123456789012:function:strangler-test-controller"
REPO = Path(__file__).resolve().parents[2]
ASL_VALIDATOR = REPO / "node_modules" / ".bin" / "asl-validator"
TASKS = ("Begin", "Verify", "Shift", "Check", "Finish", "Rollback")


@pytest.fixture(name="definition")
def _definition() -> dict[str, Any]:
    return build_definition(FUNCTION_ARN)


def asl_validator(definition: dict[str, Any], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """Run the npm asl-validator on ``definition``; fail clearly when it is not installed."""
    if not ASL_VALIDATOR.exists():
        pytest.fail(f"{ASL_VALIDATOR} is missing: run `npm ci` in {REPO}")
    path = tmp_path / "definition.json"
    path.write_text(json.dumps(definition))
    return subprocess.run(
        [str(ASL_VALIDATOR), "--json-path", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def targets(state: dict[str, Any]) -> set[str]:
    """Every state name ``state`` can go to."""
    found: set[str] = set()
    if "Next" in state:
        found.add(state["Next"])
    if "Default" in state:
        found.add(state["Default"])
    found.update(choice["Next"] for choice in state.get("Choices", []))
    found.update(catcher["Next"] for catcher in state.get("Catch", []))
    return found


def test_statelint_finds_no_problem(definition: dict[str, Any]) -> None:
    assert Linter.validate(definition) == []


def test_asl_validator_accepts_the_definition(definition: dict[str, Any], tmp_path: Path) -> None:
    result = asl_validator(definition, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_linters_reject_a_dangling_next(definition: dict[str, Any], tmp_path: Path) -> None:
    # Proves the two lint tests above can fail.
    definition["States"]["Bake"]["Next"] = "NoSuchState"
    assert Linter.validate(definition) != []
    assert asl_validator(definition, tmp_path).returncode != 0


def test_every_transition_targets_an_existing_state(definition: dict[str, Any]) -> None:
    names = set(definition["States"])
    for name, state in definition["States"].items():
        missing = targets(state) - names
        assert not missing, f"state {name} goes to unknown states {missing}"


def test_every_state_is_reachable_from_start(definition: dict[str, Any]) -> None:
    states = definition["States"]
    seen: set[str] = set()
    todo = [definition["StartAt"]]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        todo.extend(targets(states[name]))
    assert seen == set(states), f"unreachable states: {set(states) - seen}"


def test_terminal_states_are_succeed_or_fail(definition: dict[str, Any]) -> None:
    for name, state in definition["States"].items():
        if not targets(state):
            assert state["Type"] in ("Succeed", "Fail"), name


@pytest.mark.parametrize("name", TASKS)
def test_tasks_invoke_the_controller_with_the_execution_arn(
    definition: dict[str, Any], name: str
) -> None:
    task = definition["States"][name]
    assert task["Resource"] == "arn:aws:states:::lambda:invoke"
    assert task["Parameters"]["FunctionName"] == FUNCTION_ARN
    payload = task["Parameters"]["Payload"]
    assert payload["action"] == name.lower()
    assert payload["executionArn.$"] == "$$.Execution.Id"
    for key in ("route", "trigger", "actor", "plan"):
        assert payload[f"{key}.$"] == f"$.{key}", f"{name} does not pass {key}"
    assert task["ResultSelector"] == {f"{k}.$": f"$.Payload.{k}" for k in TASK_RESULT_KEYS}


@pytest.mark.parametrize("name", TASKS)
def test_tasks_retry_only_transient_errors_first(definition: dict[str, Any], name: str) -> None:
    retry = definition["States"][name]["Retry"]
    first = retry[0]
    assert first["ErrorEquals"] == [TRANSIENT_ERROR, *LAMBDA_TRANSIENT_ERRORS]
    assert first["JitterStrategy"] == "FULL"
    assert first["BackoffRate"] > 1
    assert first["IntervalSeconds"] >= 1
    for retrier in retry:
        assert "CheckFailed" not in retrier["ErrorEquals"]
        assert "TransitionRefused" not in retrier["ErrorEquals"]
    if name != "Rollback":
        # A refused transition or a failed check must never be retried.
        assert len(retry) == 1, f"{name} retries more than transient errors"


@pytest.mark.parametrize("name", ("Begin", "Shift", "Check", "Finish"))
def test_every_task_catches_into_rollback(definition: dict[str, Any], name: str) -> None:
    catch = definition["States"][name]["Catch"]
    assert catch == [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.failure", "Next": "Rollback"}]


def test_a_failed_rollback_ends_in_a_clear_fail_state(definition: dict[str, Any]) -> None:
    states = definition["States"]
    assert states["Rollback"]["Catch"][0]["Next"] == "RollbackFailed"
    assert states["Rollback"]["Next"] == "RolledBack"
    failed = states["RollbackFailed"]
    assert failed["Type"] == "Fail"
    assert "python -m controller rollback" in failed["Cause"]
    assert states["Rollback"]["Parameters"]["Payload"]["failure.$"] == "$.failure"


def test_bake_reads_its_seconds_from_the_shift_result(definition: dict[str, Any]) -> None:
    bake = definition["States"]["Bake"]
    assert bake == {
        "Type": "Wait",
        "Comment": bake["Comment"],
        "SecondsPath": "$.shift.stage.bakeSeconds",
        "Next": "Check",
    }


def test_check_outcomes_route_the_run(definition: dict[str, Any]) -> None:
    choice = definition["States"]["CheckOutcome"]
    branches = {c["StringEquals"]: c["Next"] for c in choice["Choices"]}
    assert branches == {
        Outcome.NEXT: "Shift",
        Outcome.PAUSE: "PausedUntilNextRun",
        Outcome.FINISH: "Finish",
        Outcome.DRIFT: "PausedOnDrift",
        Outcome.FAIL: "CheckFailed",
        Outcome.SUPERSEDED: "Superseded",
    }
    assert choice["Default"] == "UnexpectedOutcome"
    assert definition["States"]["CheckFailed"]["Next"] == "Rollback"


def test_shift_and_finish_outcomes_route_the_run(definition: dict[str, Any]) -> None:
    states = definition["States"]
    shift = {c["StringEquals"]: c["Next"] for c in states["ShiftOutcome"]["Choices"]}
    assert shift == {
        Outcome.BAKING: "Bake",
        Outcome.COMPLETE: "Finish",
        Outcome.DRIFT: "PausedOnDrift",
        Outcome.GATED: "PausedAtGate",
        Outcome.SUPERSEDED: "Superseded",
    }
    assert states["PausedAtGate"]["Type"] == "Succeed"
    finish = {c["StringEquals"]: c["Next"] for c in states["FinishOutcome"]["Choices"]}
    assert finish == {Outcome.PROMOTED: "Promoted", Outcome.SUPERSEDED: "Superseded"}
    assert states["Superseded"]["Type"] == "Succeed"
    assert states["UnexpectedOutcome"]["Next"] == "Rollback"


def test_refused_start_succeeds_without_touching_anything(definition: dict[str, Any]) -> None:
    branches = {
        c["StringEquals"]: c["Next"] for c in definition["States"]["BeginOutcome"]["Choices"]
    }
    assert branches == {
        Outcome.RUN: "Verify",
        Outcome.NOOP: "NotStarted",
        Outcome.RELEASE: "ReleaseShift",
    }
    assert definition["States"]["NotStarted"]["Type"] == "Succeed"


def test_the_check_gates_the_first_shift_and_a_difference_ends_the_run(
    definition: dict[str, Any],
) -> None:
    """Begin -> Verify -> Shift: no shift before the check; a difference ends in a Succeed."""
    states = definition["States"]
    assert states["Verify"]["Next"] == "VerifyOutcome"
    assert states["Verify"]["Parameters"]["Payload"]["action"] == "verify"
    assert states["Verify"]["Catch"][0]["Next"] == "Rollback"
    branches = {c["StringEquals"]: c["Next"] for c in states["VerifyOutcome"]["Choices"]}
    assert branches == {
        Outcome.VERIFIED: "Shift",
        Outcome.DIFFERS: "PausedOnVerify",
        Outcome.SUPERSEDED: "Superseded",
    }
    assert states["VerifyOutcome"]["Default"] == "UnexpectedOutcome"
    assert states["PausedOnVerify"]["Type"] == "Succeed"
    # The only way into Shift from Begin goes through the check.
    into_shift = {
        name
        for name, state in states.items()
        if state.get("Next") == "Shift"
        or any(c.get("Next") == "Shift" for c in state.get("Choices", []))
    }
    assert into_shift == {"VerifyOutcome", "CheckOutcome"}


def test_retry_policy_is_applied() -> None:
    policy = RetryPolicy(interval_seconds=1, backoff_rate=1.5, max_attempts=3)
    definition = build_definition(FUNCTION_ARN, retry=policy)
    shift = definition["States"]["Shift"]["Retry"][0]
    assert (shift["IntervalSeconds"], shift["BackoffRate"], shift["MaxAttempts"]) == (1, 1.5, 3)
    rollback = definition["States"]["Rollback"]["Retry"][0]
    assert rollback["MaxAttempts"] == policy.rollback_max_attempts


def test_definition_is_json_serialisable_and_deterministic() -> None:
    first = json.dumps(build_definition(FUNCTION_ARN), sort_keys=True)
    second = json.dumps(build_definition(FUNCTION_ARN), sort_keys=True)
    assert first == second


# --- partitions ------------------------------------------------------------------------

CHINA_FUNCTION_ARN = "arn:aws-cn:lambda:cn-north-1:123456789012:function:strangler-cn-controller"


@pytest.mark.parametrize(
    ("function_arn", "partition"),
    [
        (FUNCTION_ARN, "aws"),
        (CHINA_FUNCTION_ARN, "aws-cn"),
        ("arn:aws-us-gov:lambda:us-gov-west-1:123456789012:function:f", "aws-us-gov"),
    ],
)
def test_every_task_invokes_lambda_in_the_function_partition(
    function_arn: str, partition: str
) -> None:
    """``arn:aws:states:::lambda:invoke`` does not exist in aws-cn or aws-us-gov."""
    definition = build_definition(function_arn)
    for name in TASKS:
        task = definition["States"][name]
        assert task["Resource"] == f"arn:{partition}:states:::lambda:invoke", name
        assert task["Parameters"]["FunctionName"] == function_arn
    text = json.dumps(definition)
    every_task = [s for s in definition["States"].values() if s["Type"] == "Task"]
    assert text.count(f"arn:{partition}:") == text.count("arn:") == 2 * len(every_task)


def test_the_china_definition_passes_both_linters(tmp_path: Path) -> None:
    definition = build_definition(CHINA_FUNCTION_ARN)
    assert Linter.validate(definition) == []
    result = asl_validator(definition, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_partition_can_be_given_for_a_function_name() -> None:
    definition = build_definition("strangler-cn-controller", partition="aws-cn")
    assert definition["States"]["Begin"]["Resource"] == "arn:aws-cn:states:::lambda:invoke"
    with pytest.raises(ValueError, match="not an ARN"):
        build_definition("strangler-cn-controller")
