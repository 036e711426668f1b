"""The model: declarations (params, context), scenarios, the park's processes, policies, metrics and targets.

Nothing here imports the runner, the store, the analysis or the command line.
``park.ParkModel`` builds the park and orders the monthly step; each process
lives in its own module (see docs/ODD.md, section 2.7, for where each
behaviour is).
"""
