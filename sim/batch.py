"""Placeholder replaced below."""


def run_batch(*args, **kwargs):
    raise NotImplementedError
