"""Aster perpetual futures: a Binance USD-M clone before Binance's 2026 URL split (``codec``)."""
