"""Changing a policy with confidence: policy test files, decision logs and their replay under another policy, and
the HTML reports people look at.

May import ``decide``, ``policy``, ``model``, ``adapters`` and ``_errors``.  Plotting (the ``report`` extra) is
imported only by the modules that draw, so the rest works without it."""
