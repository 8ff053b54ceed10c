"""The alerts service: watchlists a desk keeps, matched against every language version as it arrives."""
