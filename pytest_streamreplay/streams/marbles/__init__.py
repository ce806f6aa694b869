"""Marble diagrams (RxJS ``run()`` grammar) on virtual time, with readable failures."""

from .diff import MarbleAssertionError
from .parser import MarbleEvent, MarbleSyntaxError, Subscription, parse_marbles, parse_subscription
from .render import render, render_subscription
from .testing import ColdObservable, Expectation, HotObservable, Marbles

__all__ = [
    "ColdObservable",
    "Expectation",
    "HotObservable",
    "MarbleAssertionError",
    "MarbleEvent",
    "MarbleSyntaxError",
    "Marbles",
    "Subscription",
    "parse_marbles",
    "parse_subscription",
    "render",
    "render_subscription",
]
