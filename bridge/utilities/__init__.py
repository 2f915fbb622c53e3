"""Small readers of values a peer or a user writes: numbers, nesting depth, times, and how a
value may be shown in a reason or a log line."""
