"""Driving the EveryPay sandbox's pages: the merchant portal and the hosted pay page."""

import io
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw
from playwright.sync_api import Page, expect


@dataclass(frozen=True)
class MerchantCredentials:
    """The three values the LinkPay channel needs, as the portal shows them."""

    api_username: str
    api_secret: str
    link_token: str


def make_logo(path: Path, *, colour: tuple[int, int, int] = (12, 92, 173)) -> Path:
    """A small PNG, so the pay page has a real logo to show."""
    image = Image.new("RGB", (96, 96), colour)
    ImageDraw.Draw(image).ellipse((16, 16, 80, 80), fill=(250, 190, 20))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    path.write_bytes(buffer.getvalue())
    return path


def create_merchant(page: Page, sandbox_url: str, *, name: str, logo: Path) -> None:
    page.goto(sandbox_url)
    page.get_by_label("Company name").fill(name)
    page.get_by_label("Logo (PNG or JPEG, up to 1 MB)").set_input_files(logo)
    page.locator("#create_merchant_button").click()
    expect(page.locator("#merchant_name")).to_have_text(name)
    expect(page.locator("#merchant_logo")).to_be_visible()


def add_link(page: Page, *, link_name: str = "Invoice Payment") -> None:
    page.get_by_label("Link name").fill(link_name)
    page.locator("#add_link").click()
    expect(page.locator("#portal_notice")).to_contain_text("Link saved")


def read_credentials(page: Page) -> MerchantCredentials:
    credentials = MerchantCredentials(
        api_username=page.locator("#api_username").input_value(),
        api_secret=page.locator("#api_secret").input_value(),
        link_token=page.locator("#link_token").input_value(),
    )
    assert all((credentials.api_username, credentials.api_secret, credentials.link_token))
    return credentials


def save_callback_url(page: Page, url: str) -> None:
    page.get_by_label("Callback Notification URL").fill(url)
    page.locator("#save_callback_url").click()
    expect(page.locator("#portal_notice")).to_have_text("Callback Notification URL saved.")
    expect(page.locator("#callback_url")).to_have_value(url)


def choose_outcome(page: Page, outcome: str, *, method_label: str | None = None) -> None:
    """On the hosted pay page: pick a method (optional) and press Pay / Decline / …"""
    if method_label:
        page.get_by_label(method_label, exact=True).check()
    page.locator(f"#{outcome}").click()
