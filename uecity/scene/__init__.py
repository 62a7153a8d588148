"""The scene spec (what to generate) and the junction templates."""
