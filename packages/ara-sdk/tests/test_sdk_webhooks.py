"""`ara_sdk.sign_webhook` against the Standard Webhooks reference example, and ara-server's
verification of what it signs."""

from __future__ import annotations

import pytest
from ara_sdk import sign_webhook

# The example of the Standard Webhooks specification (secret, id, timestamp, body -> signature).
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
MSG_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
STAMP = 1614265330
BODY = '{"test": 2432232314}'
SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_sign_webhook_matches_the_reference_example():
    assert sign_webhook(SECRET, BODY, msg_id=MSG_ID, timestamp=STAMP) == {
        "webhook-id": MSG_ID,
        "webhook-timestamp": str(STAMP),
        "webhook-signature": SIGNATURE,
    }
    assert (
        sign_webhook(SECRET, BODY.encode(), msg_id=MSG_ID, timestamp=STAMP)["webhook-signature"] == SIGNATURE
    )


def test_defaults_are_a_fresh_id_and_now():
    first, second = sign_webhook("plain-secret", b"{}"), sign_webhook("plain-secret", b"{}")
    assert first["webhook-id"] != second["webhook-id"] and first["webhook-id"].startswith("msg_")
    assert first["webhook-timestamp"].isdigit()


def test_the_server_accepts_what_the_sdk_signs_and_nothing_else():
    from ara_server.errors import ApiProblem
    from ara_server.services.endpoints import verify_webhook

    headers = sign_webhook(SECRET, BODY, msg_id=MSG_ID, timestamp=STAMP)
    assert verify_webhook(SECRET, BODY.encode(), headers, now_seconds=STAMP + 299) == MSG_ID
    for body, now in (
        (BODY.encode() + b" ", STAMP),
        (BODY.encode(), STAMP + 301),
        (BODY.encode(), STAMP - 301),
    ):
        with pytest.raises(ApiProblem) as refused:
            verify_webhook(SECRET, body, headers, now_seconds=now)
        assert refused.value.status == 401
    for hostile in (
        {"webhook-timestamp": "9" * 5000},
        {"webhook-timestamp": "-5"},
        {"webhook-signature": ""},
    ):
        with pytest.raises(ApiProblem) as refused:
            verify_webhook(SECRET, BODY.encode(), {**headers, **hostile}, now_seconds=STAMP)
        assert refused.value.status == 401
