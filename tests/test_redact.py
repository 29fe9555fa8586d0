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


# Each credential form: a true positive (masked) and a near miss that must stay readable.
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
FORMS = [
    ("passphrase", "deploy with passphrase=correct-horse-battery", "correct-horse-battery",
     "enter the passphrase when asked"),
    ("stripe", "charge failed with sk_live_51HxYzAbCdEfGhIjKlMnOp", "sk_live_51HxYzAbCdEfGhIjKlMnOp",
     "flag desk_live_chat_enabled and sk_live_ alone"),
    ("stripe-restricted", "rk_test_4eC39HqLyjWDarjtT1zdp7dc", "rk_test_4eC39HqLyjWDarjtT1zdp7dc",
     "task rk_test_short"),
    ("github-classic", "remote https://ghp_" + "a1B2" * 9 + "@github.com", "ghp_" + "a1B2" * 9,
     "see ghp_docs and gho_ for the token kinds"),
    ("github-fine-grained", "GH github_pat_11ABCDEFG0" + "x" * 40, "github_pat_11ABCDEFG0" + "x" * 40,
     "the github_pat_ prefix"),
    ("slack-webhook", "posting to https://hooks.slack.com/services/T0001/B0001/XXXXXXXXXXXXXXXXXXXXXXXX failed",
     "T0001/B0001/XXXXXXXXXXXXXXXXXXXXXXXX", "https://hooks.slack.com/ and https://api.slack.com/services"),
    ("sentry-dsn", "SENTRY dsn https://0123456789abcdef0123456789abcdef@o123456.ingest.sentry.io/4505",
     "0123456789abcdef0123456789abcdef", "https://sentry.io/organizations/acme/issues/ and git@github.com:a/b"),
    ("cookie", "Cookie: sid=s%3Aabcdef0123456789; theme=dark", "sid=s%3Aabcdef0123456789",
     "cookie consent banner shown; cookies=3"),
    ("set-cookie", '{"set-cookie": "session=9f8e7d6c5b4a; Path=/; HttpOnly"}', "9f8e7d6c5b4a",
     "Set-Cookie headers were dropped"),
    ("jwt", f"Authorization failed for {JWT}", JWT.split(".")[2],
     "eyJ is how base64 JSON starts: eyJhbGciOiJIUzI1NiJ9"),
    ("aws-access-key", "creds AKIAIOSFODNN7EXAMPLE in env", "AKIAIOSFODNN7EXAMPLE", "AKIA prefix and AKIA1234"),
    ("aws-secret", "aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
     "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "aws region=eu-west-1"),
]


@pytest.mark.parametrize(("text", "secret", "near_miss"), [f[1:] for f in FORMS], ids=[f[0] for f in FORMS])
def test_credential_forms_are_masked_and_near_misses_stay_readable(text, secret, near_miss):
    out = redact(text)
    assert secret not in out and MASK in out
    assert redact(near_miss) == near_miss


@pytest.mark.parametrize("line", [
    "KeyError: 'DATABASE_URL'",
    "KeyError: 'user_id'",
    "TokenExpiredError: jwt expired",
    "  File \"app.py\", line 3, in <module>\nKeyError: 'PORT'",
    "KeyboardInterrupt: stopped",
    "PrivateKeyError: unsupported format",
])
def test_exception_class_names_are_not_secret_names(line):
    assert redact(line) == line


def test_a_secret_after_an_exception_name_is_still_masked():
    out = redact("ValueError: bad DATABASE_URL=postgres://app:hunter2@db/app")
    assert "hunter2" not in out and out.startswith("ValueError: bad DATABASE_URL=")
