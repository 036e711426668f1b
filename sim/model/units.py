"""Unit conversions shared by the process modules (definitions, not estimates).

Process code divides yearly rates by :data:`MONTHS_PER_YEAR` rather than writing
``12``; ``tests/test_constants.py`` allows these names and no other bare numbers.
"""

MONTHS_PER_YEAR = 12  # months/year: the model steps one month at a time
MYUAN_PER_BNYUAN = 1000.0  # m yuan per bn yuan
YUAN_PER_MYUAN = 1_000_000.0  # yuan per m yuan
