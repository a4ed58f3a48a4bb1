# Every setting left at its default.
