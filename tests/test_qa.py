from __future__ import annotations

from target_middleware.qa import qa_mode_from_query, trace_from_query


def test_a_qa_link_becomes_qa_mode() -> None:
    query = (
        "at_preview_token=tok%2Babc&at_preview_index=1_2&at_preview_index=3,0_1,x"
        "&at_preview_listed_activities_only=true&at_preview_evaluate_as_true_audience_ids=11,12"
        "&at_preview_evaluate_as_false_audience_ids=13,bad"
    )
    assert qa_mode_from_query(query) == {
        "token": "tok+abc",
        "listedActivitiesOnly": True,
        "evaluateAsTrueAudienceIds": [11, 12],
        "evaluateAsFalseAudienceIds": [13],
        "previewIndexes": [{"activityIndex": 1, "experienceIndex": 2}, {"activityIndex": 3}],
    }


def test_no_token_no_qa_mode() -> None:
    assert qa_mode_from_query("at_preview_index=1_1") is None
    assert qa_mode_from_query("at_preview_token=" + "x" * 5000) is None
    assert qa_mode_from_query("") is None


def test_trace_needs_both_mbox_trace_and_a_token() -> None:
    assert trace_from_query("mboxTrace=window&authorization=abc") == {"authorizationToken": "abc"}
    assert trace_from_query("authorization=abc") is None
    assert trace_from_query("mboxTrace=window") is None
