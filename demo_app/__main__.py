"""``python -m demo_app``: Target offers applied to a sample page on the server, printed before and after."""

from __future__ import annotations

from target_middleware import apply_actions

PAGE = """<!DOCTYPE html>
<html><head><title>Acme</title></head>
<body>
<div class="wrapper"><section class="hero"><h1 class="title">Gear for every trail</h1>
<a class="btn cta" href="/sale">Shop the sale</a></section></div>
<ul class="menu"><li>Home</li><li>Tents</li><li>Packs</li><li>Sale</li></ul>
</body></html>"""

# What Target's Visual Experience Composer would send for one experience, in the Delivery API form.
ACTIONS = [
    {
        "type": "setHtml",
        "selector": "HTML > BODY > DIV.wrapper:eq(0) > SECTION.hero:eq(0) > H1.title:eq(0)",
        "content": "Winter sale: 30% off tents",
    },
    {"type": "setStyle", "selector": "A.cta", "content": {"backgroundColor": "#c00", "priority": "important"}},
    {"type": "insertBefore", "selector": "UL.menu", "content": '<p class="banner">Members ship free</p>'},
    {"type": "rearrange", "selector": "UL.menu", "content": {"from": 3, "to": 0}},
    {"type": "setText", "selector": "#not-on-this-page", "content": "skipped"},
]


def main() -> None:
    result = apply_actions(PAGE, ACTIONS)
    print("Before:\n" + PAGE + "\n")
    print("After:\n" + result.html + "\n")
    for report in result.applied:
        print(f"applied  {report.type:<12} {report.selector}  ({report.matched} element)")
    for report in result.skipped:
        print(f"skipped  {report.type:<12} {report.selector}  ({report.reason}: {report.detail})")


if __name__ == "__main__":
    main()
