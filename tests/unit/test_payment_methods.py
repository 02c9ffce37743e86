"""Payment methods as people read them, not as EveryPay codes them."""

import pytest

from shared.payment_methods import payment_method_label


@pytest.mark.parametrize(
    ("code", "shown"),
    [
        ("card", "Card"),
        ("apple_pay", "Apple Pay"),
        ("google_pay", "Google Pay"),
        ("seb_ob_lv", "SEB (Latvia) bank link"),
        ("swedbank_ob_lv", "Swedbank (Latvia) bank link"),
        ("lhv_ob_ee", "LHV (Estonia) bank link"),
        ("luminor_ob_lt", "Luminor (Lithuania) bank link"),
        ("Citadele_OB_LV", "Citadele (Latvia) bank link"),
        # Codes the list does not know still read as words.
        ("revolut_ob_lv", "Revolut (Latvia) bank link"),
        ("coop_pank_ob_ee", "Coop pank (Estonia) bank link"),
        ("seb_ob_se", "SEB (SE) bank link"),
        ("klarna_pay_later", "Klarna pay later"),
        ("", ""),
        (None, ""),
    ],
)
def test_payment_method_label(code, shown):
    assert payment_method_label(code) == shown
