"""User agents of desktops, phones and tablets, and client hints, as browsers send them (for generated traffic)."""

from __future__ import annotations

__all__ = ["AGENTS", "HINTS"]

AGENTS = {
    "chrome-mac": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36",
    "firefox-win": "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0",
    "safari-mac": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.1 Safari/605.1.15",
    "ie11": "Mozilla/5.0 (Windows NT 10.0; Trident/7.0; rv:11.0) like Gecko",
    "edge-win": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36 Edg/120.0.2210.61",
    "opera-win": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/119.0.0.0 Safari/537.36 OPR/105.0.0.0",
    "chrome-linux": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 "
    "Safari/537.36",
    "iphone-safari": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Version/17.1 Mobile/15E148 Safari/604.1",
    "iphone-chrome": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) CriOS/120.0.6099.50 Mobile/15E148 Safari/604.1",
    "iphone-firefox": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) FxiOS/120.0 Mobile/15E148 Safari/605.1.15",
    "android-chrome": "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.6099.43 Mobile Safari/537.36",
    "android-chrome-reduced": "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Mobile Safari/537.36",
    "android-samsung": "Mozilla/5.0 (Linux; Android 13; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) "
    "SamsungBrowser/23.0 Chrome/115.0.0.0 Mobile Safari/537.36",
    "android-firefox": "Mozilla/5.0 (Android 14; Mobile; rv:121.0) Gecko/121.0 Firefox/121.0",
    "android-webview": "Mozilla/5.0 (Linux; Android 13; Pixel 7 Build/TQ3A.230901.001; wv) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Version/4.0 Chrome/119.0.6045.163 Mobile Safari/537.36",
    "android-edge": "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Mobile Safari/537.36 EdgA/120.0.2210.84",
    "android-opera": "Mozilla/5.0 (Linux; Android 13; SM-A536B) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/119.0.0.0 Mobile Safari/537.36 OPR/79.0.4195.76872",
    "ipad-safari": "Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/16.6 Mobile/15E148 Safari/604.1",
    "android-tablet-chrome": "Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36",
    "kindle-silk": "Mozilla/5.0 (Linux; Android 9; KFTRWI) AppleWebKit/537.36 (KHTML, like Gecko) Silk/118.4.1 "
    "like Chrome/118.0.5993.144 Safari/537.36",
    "googlebot": "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
}
HINTS = {
    "chrome-android": {
        "mobile": True,
        "model": "Pixel 8",
        "platform": "Android",
        "platformVersion": "14.0.0",
        "browserUAWithMajorVersion": '"Not_A Brand";v="8", "Chromium";v="120", "Google Chrome";v="120"',
        "browserUAWithFullVersion": '"Not_A Brand";v="8.0.0.0", "Chromium";v="120.0.6099.43", '
        '"Google Chrome";v="120.0.6099.43"',
    },
    "chrome-mac-major": {
        "mobile": False,
        "platform": "macOS",
        "browserUAWithMajorVersion": '"Chromium";v="110", "Not A(Brand";v="24", "Google Chrome";v="110"',
    },
    "edge-windows": {
        "mobile": False,
        "platform": "Windows",
        "platformVersion": "15.0.0",
        "architecture": "x86",
        "bitness": "64",
        "browserUAWithMajorVersion": '"Not_A Brand";v="8", "Chromium";v="120", "Microsoft Edge";v="120"',
    },
    "opera-windows": {
        "mobile": False,
        "platform": "Windows",
        "browserUAWithMajorVersion": '"Opera";v="105", "Chromium";v="119", "Not?A_Brand";v="24"',
    },
    "chromium-linux": {
        "mobile": False,
        "platform": "Linux",
        "browserUAWithMajorVersion": '"Chromium";v="120", "Not_A Brand";v="8"',
    },
    "samsung-android": {
        "mobile": True,
        "platform": "Android",
        "browserUAWithMajorVersion": '"Samsung Internet";v="23.0", "Chromium";v="115", "Not/A)Brand";v="99"',
    },
}
