"""The shop's catalogue: a few products in a few categories, in memory."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Category:
    slug: str
    name: str
    blurb: str


@dataclass(frozen=True, slots=True)
class Product:
    sku: str
    name: str
    category: str
    price: int  # whole euros
    stock: int
    colour: str  # the illustration's tint
    icon: str  # which illustration (templates/icons.html)
    summary: str


CATEGORIES = {
    c.slug: c
    for c in (
        Category("tents", "Tents", "Shelters from ultralight solo to four-season basecamp."),
        Category("sleep", "Sleep", "Quilts, bags and pads for cold nights."),
        Category("kitchen", "Camp kitchen", "Stoves, pots and everything for hot coffee at dawn."),
        Category("packs", "Packs", "Carry it all, comfortably."),
    )
}

PRODUCTS = {
    p.sku: p
    for p in (
        Product(
            "tent-2p",
            "Ridgeline 2P Tent",
            "tents",
            389,
            12,
            "#e76f51",
            "tent",
            "A two-person, three-season tent at 1.4 kg, with two doors and two vestibules.",
        ),
        Product(
            "tent-4s",
            "Summit 4-Season Tent",
            "tents",
            749,
            0,
            "#264653",
            "tent",
            "A geodesic shelter that shrugs off snow loads and alpine wind.",
        ),
        Product(
            "quilt-20",
            "Cirrus 20° Quilt",
            "sleep",
            279,
            30,
            "#2a9d8f",
            "quilt",
            "850-fill down, 640 g, warm to -6 °C with a good pad.",
        ),
        Product(
            "pad-r4",
            "Loft R4 Sleeping Pad",
            "sleep",
            159,
            8,
            "#8ab17d",
            "quilt",
            "An insulated air pad with an R-value of 4.2, for three seasons and a bit more.",
        ),
        Product(
            "stove-ti",
            "Titan Canister Stove",
            "kitchen",
            69,
            41,
            "#f4a261",
            "stove",
            "73 g of titanium that boils a litre in three minutes.",
        ),
        Product(
            "lamp-300",
            "Lumen 300 Headlamp",
            "kitchen",
            49,
            25,
            "#e9c46a",
            "lamp",
            "300 lumens, red mode, USB-C, 50 hours on low.",
        ),
        Product(
            "pack-45",
            "Traverse 45 L Pack",
            "packs",
            219,
            5,
            "#6d597a",
            "pack",
            "A frame pack for long weekends: 1.1 kg, carries 15 kg with ease.",
        ),
    )
}

FEATURED = ("tent-2p", "quilt-20", "stove-ti", "pack-45")


def in_category(slug: str) -> list[Product]:
    return [p for p in PRODUCTS.values() if p.category == slug]
