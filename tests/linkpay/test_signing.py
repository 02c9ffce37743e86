"""everypay.md §5 test vectors and properties of the LinkPay link signature."""

import string
from urllib.parse import urlsplit

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from shared.linkpay import signed_link_url
from shared.linkpay.client import basic_auth_header
from shared.linkpay.signing import (
    canonical_query,
    decode_component,
    encode_component,
    parse_query,
    sign_query,
    verify_query,
)

SECRET = "apisecret123456789"
SAMPLE = [
    ("transaction_amount", "10"),
    ("customer_name", "Your Customer Name"),
    ("customer_email", "customer@email.com"),
    ("order_reference", "YourOrderReference"),
    ("linkpay_token", "123abcd"),
]
PREFIX = "https://igw-demo.every-pay.com/lp"


def test_tv1_everypay_sample_in_its_own_order():
    url = signed_link_url(PREFIX, SECRET, SAMPLE)
    assert url == (
        f"{PREFIX}?transaction_amount=10&customer_name=Your%20Customer%20Name"
        "&customer_email=customer%40email.com&order_reference=YourOrderReference"
        "&linkpay_token=123abcd"
        "&hmac=d39d47034f835d7d7211d04ff9661457cf1992d7ecc11b87dcc5c67ff1fc18f5"
    )


def test_tv2_sorted_by_key():
    url = signed_link_url(PREFIX, SECRET, dict(sorted(SAMPLE)))
    assert url.endswith(
        "customer_email=customer%40email.com&customer_name=Your%20Customer%20Name"
        "&linkpay_token=123abcd&order_reference=YourOrderReference&transaction_amount=10"
        "&hmac=7a16425a9eeb108a3c837d5d0cee320ba6cd1aede87757d398943db8397666ff"
    )


def test_known_wrong_signatures_are_not_what_we_make():
    query = canonical_query(SAMPLE)
    assert not sign_query(query.replace("%20", "+"), SECRET).startswith("d39d4703")
    assert sign_query(query.replace("%20", "+"), SECRET).startswith("f8cdd9e2")
    unencoded = "&".join(f"{k}={v}" for k, v in SAMPLE)
    assert sign_query(unencoded, SECRET).startswith("8ed4b27b")


def test_tv3_basic_auth_is_standard_base64():
    assert basic_auth_header("abc12345", SECRET) == "Basic YWJjMTIzNDU6YXBpc2VjcmV0MTIzNDU2Nzg5"


def test_encoding_rules():
    assert encode_component("a b") == "a%20b"
    assert encode_component("@/+~") == "%40%2F%2B%7E"
    assert encode_component("ü") == "%C3%BC"
    assert encode_component("A-z_0.9") == "A-z_0.9"


def _query(url: str) -> str:
    return urlsplit(url).query


param_values = st.text(min_size=1, max_size=30)
param_sets = st.dictionaries(
    st.sampled_from(["transaction_amount", "order_reference", "customer_name", "customer_email"]),
    param_values,
    min_size=1,
).map(lambda d: [*d.items(), ("linkpay_token", "tok123")])


@given(text=st.text())
def test_encoding_round_trips_any_unicode(text: str):
    encoded = encode_component(text)
    assert set(encoded) <= set(string.ascii_letters + string.digits + "-_.%")
    assert decode_component(encoded) == text


@given(params=param_sets, data=st.data())
@settings(max_examples=150)
def test_changing_any_value_breaks_the_signature(params, data):
    url = signed_link_url(PREFIX, SECRET, params)
    assert verify_query(_query(url), SECRET)
    index = data.draw(st.integers(min_value=0, max_value=len(params) - 1))
    key, value = params[index]
    new_value = data.draw(param_values.filter(lambda v, old=value: v != old))
    tampered = list(params)
    tampered[index] = (key, new_value)
    signed_part = canonical_query(tampered)
    signature = _query(url).rsplit("hmac=", 1)[1]
    assert not verify_query(f"{signed_part}&hmac={signature}", SECRET)


@given(params=param_sets)
def test_reordering_parameters_breaks_the_signature(params):
    assume(len(params) >= 2)
    url = signed_link_url(PREFIX, SECRET, params)
    signature = _query(url).rsplit("hmac=", 1)[1]
    reordered = canonical_query(list(reversed(params)))
    assert reordered != canonical_query(params)
    assert not verify_query(f"{reordered}&hmac={signature}", SECRET)


def test_wrong_secret_or_missing_hmac_fails_and_parse_reads_values_back():
    url = signed_link_url(PREFIX, SECRET, SAMPLE)
    assert not verify_query(_query(url), "other-secret")
    assert not verify_query(canonical_query(SAMPLE), SECRET)
    parsed = parse_query(_query(url))
    assert parsed["customer_name"] == "Your Customer Name"
    assert parsed["customer_email"] == "customer@email.com"
