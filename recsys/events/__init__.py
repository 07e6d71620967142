"""Live rows between retrains: events, group buys and posts judged by the ingest rules, kept in
a durable store, folded into the next answer, exported as a delta; and the impression log.

    judge.judge_rows(...)          # the ingest rules on one posted batch (docs/events.md)
    store.SQLiteEventStore(path)   # the durable store (WAL, synchronous=FULL)
    export.export_delta(...)       # a delta folder that refresh and ingest accept
    impressions.ImpressionLog(...) # what was shown, written off the request path
"""
