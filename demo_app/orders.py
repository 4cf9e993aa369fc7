"""The deals page's order form: what a checkout posts, read strictly, and the order Target is told about.

The form posts ``application/x-www-form-urlencoded`` (``sku``, ``quantity``); the price is the catalogue's with the
discount the deals page showed (``discount``, one of the discounts the page can show). A bad form is a ``400`` with
the reason; nothing about it reaches Target.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from urllib.parse import parse_qs

from .catalog import PRODUCTS

__all__ = ["MAX_FORM_BYTES", "Order", "OrderInvalid", "parse_order"]

MAX_FORM_BYTES = 2048
DISCOUNTS = range(51)  # whole percents a deals offer can give


class OrderInvalid(ValueError):
    """The posted form is not an order; the message says why (it is shown to the shopper)."""


@dataclass(frozen=True, slots=True)
class Order:
    id: str
    sku: str
    quantity: int
    total: float

    @property
    def target_order(self) -> dict[str, object]:
        """The Delivery API ``order`` (what at.js sends for ``orderId``, ``orderTotal``, ``productPurchasedId``)."""
        return {"id": self.id, "total": self.total, "purchasedProductIds": [self.sku]}


def _one(form: dict[str, list[str]], name: str) -> str:
    values = form.get(name)
    if not values or len(values) != 1:
        raise OrderInvalid(f"the form needs exactly one {name}")
    return values[0]


def parse_order(body: bytes, content_type: str) -> Order:
    """The order a form body describes, priced from the catalogue."""
    if content_type.split(";", 1)[0].strip().lower() != "application/x-www-form-urlencoded":
        raise OrderInvalid("an order is posted as a form")
    if len(body) > MAX_FORM_BYTES:
        raise OrderInvalid("the form is too large")
    try:
        form = parse_qs(body.decode("ascii"), strict_parsing=True, max_num_fields=10)
    except ValueError as exc:  # UnicodeDecodeError too
        raise OrderInvalid("the form cannot be read") from exc
    product = PRODUCTS.get(_one(form, "sku"))
    if product is None:
        raise OrderInvalid("no such product")
    quantity, discount = _one(form, "quantity"), _one(form, "discount")
    if not quantity.isdigit() or not 1 <= int(quantity) <= 10:
        raise OrderInvalid("quantity must be 1 to 10")
    if not discount.isdigit() or int(discount) not in DISCOUNTS:
        raise OrderInvalid("discount must be a whole percent, 0 to 50")
    unit = round(product.price * (100 - int(discount)) / 100)
    return Order(f"TH-{secrets.token_hex(4).upper()}", product.sku, int(quantity), float(unit * int(quantity)))
