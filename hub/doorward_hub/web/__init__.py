"""The hub's web server: one aiohttp sub-application per audience."""
