"""The words every room shares: events, conversions, money and its currencies, secrets."""
