"""How several annotators' responses become one Review (no server needed)."""

from __future__ import annotations

from datetime import UTC, datetime

from trajkit.curate.pull import consolidate, to_response
from trajkit.schema import ReviewResponse


def response(annotator, status="submitted", minute=0, **fields):
    return ReviewResponse(annotator=annotator, status=status, at=datetime(2026, 1, 1, 12, minute, tzinfo=UTC), **fields)


def test_majority_label_mean_rating_union_of_tags():
    review = consolidate(
        [
            response("a", label="accept", rating=5, tags=["inefficient"]),
            response("b", label="accept", rating=2, tags=["bad_code"], minute=3),
            response("c", label="reject", rating=2, comment="meh", minute=1),
        ]
    )
    assert (review.status, review.label, review.rating) == ("submitted", "accept", 3.0)
    assert review.tags == ["bad_code", "inefficient"]
    assert review.comment == "c: meh" and review.annotator == "a, b, c"
    assert review.at == datetime(2026, 1, 1, 12, 3, tzinfo=UTC)


def test_a_tie_is_no_consensus_to_train_on():
    review = consolidate([response("a", label="accept"), response("b", label="reject")])
    assert review.label == "reject"


def test_drafts_and_discards_never_decide_but_are_kept():
    review = consolidate(
        [
            response("a", label="reject"),
            response("b", status="draft", label="accept"),
            response("c", status="discarded"),
        ]
    )
    assert review.label == "reject" and review.annotator == "a" and len(review.responses) == 3
    assert consolidate([response("a", status="draft", label="accept"), response("b", status="discarded")]).status == "draft"
    only_discarded = consolidate([response("a", status="discarded")])
    assert (only_discarded.status, only_discarded.label) == ("discarded", None)
    assert consolidate([]).status == "pending"


def test_corrected_answer_most_common_then_latest():
    review = consolidate(
        [
            response("a", label="reject", corrected_answer="42", minute=1),
            response("b", label="reject", corrected_answer="41", minute=2),
            response("c", label="reject", corrected_answer="42", minute=0),
        ]
    )
    assert review.corrected_answer == "42"
    latest = consolidate(
        [response("a", label="reject", corrected_answer="1", minute=5), response("b", label="reject", corrected_answer="2", minute=1)]
    )
    assert latest.corrected_answer == "1"


def test_raw_rest_response_is_read_with_usernames_and_time():
    raw = {
        "user_id": "u1",
        "status": "submitted",
        "values": {"verdict": {"value": "accept"}, "quality": {"value": 3}, "error_tags": {"value": ["other", "bad_code"]}},
        "updated_at": "2026-11-22T02:08:37.733242",
    }
    parsed = to_response(raw, {"u1": "alice"})
    assert (parsed.annotator, parsed.label, parsed.rating, parsed.tags) == ("alice", "accept", 3, ["bad_code", "other"])
    assert parsed.at.tzinfo is not None
    unknown = to_response({"user_id": "u9", "status": "discarded", "values": None}, {})
    assert (unknown.annotator, unknown.label, unknown.at) == ("user:u9", None, None)
