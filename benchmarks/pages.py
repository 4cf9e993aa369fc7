"""Realistic shop pages of a chosen size, for the benchmarks: nav, hero, product cards, a table, inline scripts."""

from __future__ import annotations

HEAD = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Acme Outdoor - Tents, packs and more</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/static/site.css">
<style>.card{border:1px solid #ddd;padding:8px}.price{font-weight:bold}</style>
<script>window.dataLayer=window.dataLayer||[];dataLayer.push({page:"home"});</script>
</head>
<body class="home">
<header class="header"><nav class="nav"><ul class="menu">
<li><a href="/">Home</a></li><li><a href="/tents">Tents</a></li><li><a href="/packs">Packs</a></li>
<li><a href="/sale" class="sale">Sale</a></li></ul></nav></header>
<div class="wrapper"><section class="hero" id="hero"><h1 class="title">Gear for every trail</h1>
<p class="lead">Free shipping over $50 &amp; 30-day returns.</p>
<a class="btn cta" href="/sale">Shop the sale</a></section>
"""

CARD = """<div class="card product" data-sku="SKU-{i}"><img class="thumb" src="/img/p{i}.jpg" alt="Product {i}">
<h3 class="name">Trail product {i}</h3><p class="desc">Lightweight, durable &amp; weatherproof: item {i} keeps
you going on long days outside.</p><span class="price">$ {price}.99</span>
<button class="add" type="button" onclick="add({i})">Add to cart</button></div>
"""

ROW = "<tr><td>Size {i}</td><td>{i}0 cm</td><td>{i}.5 kg</td></tr>\n"

TAIL = """</div>
<footer class="footer"><p>&copy; Acme Outdoor</p></footer>
<script src="/static/app.js"></script>
</body>
</html>
"""


def shop_page(size: int) -> str:
    """A page of about ``size`` characters."""
    parts = [HEAD, '<div class="grid" id="grid">\n']
    length = len(HEAD) + len(TAIL)
    i = 0
    while length < size * 0.8:
        card = CARD.format(i=i, price=10 + i % 90)
        parts.append(card)
        length += len(card)
        i += 1
    parts.append('</div>\n<table class="sizes">\n')
    while length < size:
        row = ROW.format(i=i)
        parts.append(row)
        length += len(row)
        i += 1
    parts.append("</table>\n")
    parts.append(TAIL)
    return "".join(parts)


# Five actions as the VEC writes them, one a structural path with :eq.
ACTIONS = [
    {
        "type": "setHtml",
        "selector": "HTML > BODY > DIV.wrapper:eq(0) > SECTION.hero:eq(0) > H1.title:eq(0)",
        "cssSelector": "HTML > BODY > DIV:nth-of-type(1) > SECTION:nth-of-type(1) > H1:nth-of-type(1)",
        "content": "Winter sale: 30% off tents",
    },
    {"type": "setStyle", "selector": "#hero", "content": {"background-color": "#fde", "priority": "important"}},
    {"type": "insertBefore", "selector": "#grid", "content": '<div class="banner">Members get free shipping</div>'},
    {"type": "setAttribute", "selector": "A.cta", "content": {"href": "/winter-sale"}},
    {"type": "rearrange", "selector": "UL.menu", "content": {"from": 3, "to": 0}},
]
