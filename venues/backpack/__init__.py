"""Backpack Exchange perpetuals: sans-I/O codec (``venues.backpack.codec.BackpackCodec``)."""
