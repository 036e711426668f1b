"""The policy dashboard: ``parksim dashboard`` serves it on 127.0.0.1.

:mod:`sim.dashboard.data` reads stored batches and computes what is shown (plain
functions with unit tests); :mod:`sim.dashboard.app` is the Solara user interface.
"""
