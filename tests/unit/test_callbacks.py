"""Pure rules of webhooks: which URLs are called, the signature, the back-off."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from modeltrain.config import Settings
from modeltrain.exceptions import InvalidInput
from modeltrain.jobs.options import callback_refusal, check_callback_url
from modeltrain.worker.callbacks import backoff, signature

ALLOWING = Settings(_env_file=None, webhook_allowed_hosts=["Hooks.Example.com"], webhook_secret="s")


@pytest.mark.parametrize(
    "url", ["https://hooks.example.com/x", "http://HOOKS.example.com:8080/a?b=c"]
)
def test_allowed_hosts_are_called(url):
    assert callback_refusal(ALLOWING, url) is None


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("https://evil.example.com/x", "not one this service calls"),
        ("https://hooks.example.com.evil.net/x", "not one this service calls"),
        ("https://user@evil.net/?hooks.example.com", "not one this service calls"),
        ("file:///etc/passwd", "http:// or https://"),
        ("hooks.example.com/x", "http:// or https://"),
        ("https://hooks.example.com:notaport/x", "not a URL"),
        ("https://hooks.example.com/" + "x" * 2000, "longer than"),
    ],
)
def test_other_urls_are_refused_saying_why(url, words):
    assert words in (callback_refusal(ALLOWING, url) or "")


def test_no_host_is_called_by_default_and_none_without_a_secret():
    assert "none" in (callback_refusal(Settings(_env_file=None), "https://a.b/") or "")
    unsigned = Settings(_env_file=None, webhook_allowed_hosts=["a.b"])
    assert "MODELTRAIN_WEBHOOK_SECRET" in (callback_refusal(unsigned, "https://a.b/") or "")


def test_a_refused_url_is_a_422_naming_the_field_and_none_is_no_callback():
    with pytest.raises(InvalidInput) as raised:
        check_callback_url(ALLOWING, "https://evil.example.com/")
    assert raised.value.extra["field"] == "callbackUrl"
    assert check_callback_url(ALLOWING, None) is None and check_callback_url(ALLOWING, " ") is None


def test_the_signature_is_the_hmac_of_the_body_and_tries_back_off():
    body = b'{"status":"completed"}'
    expected = hmac.new(b"key", body, hashlib.sha256).hexdigest()
    assert signature("key", body) == f"sha256={expected}"
    assert [backoff(n) for n in (1, 2, 3, 4)] == [1.0, 2.0, 4.0, 8.0]
    assert backoff(30) == 60.0
