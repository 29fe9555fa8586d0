"""The one redaction function: what it masks, and what it leaves alone."""

from __future__ import annotations

import pytest

from bot.common.redact import MASK, is_secret_name, redact, redact_mapping, register_secret


@pytest.mark.parametrize(("text", "secret"), [
    ("token xoxb-1234567890-abcdefghij", "xoxb-1234567890-abcdefghij"),
    ("app xapp-1-A0123-4567-abcdef", "xapp-1-A0123-4567-abcdef"),
    ("Authorization: Bearer abcdefghijkl123", "abcdefghijkl123"),
    ("postgres://user:hunter2@db.internal:5432/app", "hunter2"),
    ("redis://default:pzQzRMKTSo3u@redis.railway.internal:6379", "pzQzRMKTSo3u"),
    ("JWT_SECRET=0123456789abcdef0123456789abcdef", "0123456789abcdef0123456789abcdef"),
    ('{"ENCRYPTION_KEY": "5a0b1e5bb93e6d63"}', "5a0b1e5bb93e6d63"),
    ("DATABASE_URL: postgresql://a@h/d", "postgresql://a@h/d"),
    ("PGPASSWORD=s3cr3tvalue", "s3cr3tvalue"),
])
def test_secrets_are_masked(text, secret):
    out = redact(text)
    assert secret not in out and MASK in out


def test_registered_secrets_are_masked_wherever_they_appear():
    register_secret("my-signing-secret-value")
    assert redact("the secret my-signing-secret-value leaked") == f"the secret {MASK} leaked"


def test_ordinary_text_is_left_alone():
    text = "status=ok db=true /ready 200 · 14 ms gitSha=4f2c9e1 https://www.ivanreseller.com"
    assert redact(text) == text


def test_mappings_mask_secret_names_and_redact_the_rest():
    out = redact_mapping({"PORT": "8080", "JWT_SECRET": "x" * 40, "nested": {"API_TOKEN": "abc"},
                          "note": "see postgres://u:pw@h/d"})
    assert out == {"PORT": "8080", "JWT_SECRET": MASK, "nested": {"API_TOKEN": MASK},
                   "note": f"see postgres://u:{MASK}@h/d"}
    assert is_secret_name("DATABASE_URL") and is_secret_name("REDIS_URL") and not is_secret_name("PORT")


def test_a_secret_pair_inside_another_pairs_value_is_found():
    out = redact("crashed: JWT_SECRET=abcdef0123456789 while booting")
    assert "abcdef0123456789" not in out and out == f"crashed: JWT_SECRET={MASK} while booting"
