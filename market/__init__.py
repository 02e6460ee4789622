"""Pure domain core of perpwire: events, order books, funding maths and errors.

Nothing in this package does I/O, reads a clock implicitly or imports anything from the rest of
the repository; every other layer builds on it.
"""
