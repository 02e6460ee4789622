"""Simulator tests: real websockets/aiohttp clients against the simulator on loopback."""
